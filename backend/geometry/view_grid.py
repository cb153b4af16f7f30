"""Views around an object for image-model texturing: cameras, depth/normal renders, and a grid.

A diffusion model paints every view in one image (a 2x2 grid: front, right, back, left, a little
from above), so the views share one denoising run and agree on colours and style. The grid of
depth maps (near = white, as depth ControlNets expect) conditions it; the painted grid is cut
back into views that :func:`backend.geometry.bake.bake_views` projects onto the UVs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Camera, look_at
from .raster import rasterize

AZIMUTHS = (0.0, 90.0, 180.0, 270.0)   # front (-Y), right (+X), back (+Y), left (-X)
ELEVATION = 20.0
FOV = 35.0


@dataclass
class ViewRender:
    """One view: its camera, depth map (H,W) in [0,1] (near = 1, background 0), normals (H,W,3), mask."""

    camera: Camera
    depth: np.ndarray
    normal: np.ndarray
    mask: np.ndarray


def cameras(positions: np.ndarray, size: int) -> list[Camera]:
    """Perspective cameras around the object's bounding sphere, framing it in every view."""
    low, high = positions.min(0), positions.max(0)
    center = 0.5 * (low + high)
    radius = 0.5 * float(np.linalg.norm(high - low)) or 1.0
    distance = radius / np.sin(np.radians(FOV) / 2) * 1.02
    out = []
    for azimuth in AZIMUTHS:
        a, e = np.radians(azimuth), np.radians(ELEVATION)
        direction = np.array([np.sin(a) * np.cos(e), -np.cos(a) * np.cos(e), np.sin(e)])
        out.append(look_at(center + distance * direction, center, size, size, fov_y=np.radians(FOV)))
    return out


def render_view(camera: Camera, positions: np.ndarray, triangles: np.ndarray) -> ViewRender:
    """Depth (near = 1) and world normal images of the mesh seen by ``camera``."""
    xy, depth = camera.project(positions)
    raster = rasterize(xy[triangles], camera.width, camera.height, depth=depth[triangles])
    mask = raster.mask
    tri = positions[triangles]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    face_n /= np.maximum(np.linalg.norm(face_n, axis=1, keepdims=True), 1e-30)
    normal = np.zeros((camera.height, camera.width, 3))
    normal[mask] = face_n[raster.face[mask]]
    near = np.zeros((camera.height, camera.width))
    if mask.any():
        z = raster.depth[mask]
        lo, hi = float(z.min()), float(z.max())
        near[mask] = 1.0 - 0.8 * (z - lo) / max(hi - lo, 1e-9)
    return ViewRender(camera, near, normal, mask)


def grid(images: list[np.ndarray], columns: int = 2) -> np.ndarray:
    """Tile equal-size images (H,W,C) row by row."""
    rows = [np.concatenate(images[i:i + columns], axis=1) for i in range(0, len(images), columns)]
    return np.concatenate(rows, axis=0)


def ungrid(image: np.ndarray, count: int, columns: int = 2) -> list[np.ndarray]:
    """Cut a grid made by :func:`grid` back into its ``count`` tiles."""
    rows = -(-count // columns)
    h, w = image.shape[0] // rows, image.shape[1] // columns
    return [image[(i // columns) * h:(i // columns + 1) * h, (i % columns) * w:(i % columns + 1) * w]
            for i in range(count)]
