"""Small offline renderer for image-conditioning training data: shaded, coloured RGBA views.

Dense surface samples are splatted (2x2 pixels, nearest depth wins) through a perspective camera
orbiting the object, shaded with a key light plus ambient, coloured per part. Alpha marks the
object, as the conditioning expects of user images. Fast enough (~10 ms a view) to render a
few views of every training shape on a CPU.
"""
from __future__ import annotations

import numpy as np


def look_at_camera(azimuth_deg: float, elevation_deg: float, distance: float = 3.2):
    """(rotation world->camera (3,3), camera position) for a camera looking at the origin, z up."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    position = distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    forward = -position / np.linalg.norm(position)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([right, up, forward]), position


def render_view(vertices: np.ndarray, faces: np.ndarray, face_colors: np.ndarray | None = None,
                azimuth: float = 30.0, elevation: float = 20.0, size: int = 128, samples: int = 60000,
                seed: int = 0, fov_deg: float = 40.0) -> np.ndarray:
    """RGBA uint8 (size,size,4) view of a triangle mesh (normalised to about [-1,1], z up).

    ``face_colors`` (F,3) in [0,1] colours each face (default light grey).
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) == 0:
        raise ValueError("cannot render an empty mesh")
    rng = np.random.default_rng(seed)
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    areas = np.linalg.norm(normals, axis=1)
    normals = normals / np.maximum(areas[:, None], 1e-12)
    chosen = rng.choice(len(faces), size=samples, p=areas / areas.sum())
    u, v = rng.random((2, samples))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    tri = corners[chosen]
    points = tri[:, 0] + u[:, None] * (tri[:, 1] - tri[:, 0]) + v[:, None] * (tri[:, 2] - tri[:, 0])

    rotation, position = look_at_camera(azimuth, elevation)
    camera = (points - position) @ rotation.T            # x right, y up, z forward (depth)
    facing = (normals[chosen] @ rotation.T)[:, 2] < 0     # keep front faces only
    focal = 0.5 * size / np.tan(np.radians(fov_deg) / 2)
    depth = camera[:, 2]
    px = (camera[:, 0] / depth * focal + size / 2).astype(np.int64)
    py = (size / 2 - camera[:, 1] / depth * focal).astype(np.int64)

    light = rotation.T @ np.array([-0.4, 0.6, -0.7])
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.clip(normals[chosen] @ light, 0, 1)
    base = np.full((samples, 3), 0.8) if face_colors is None else np.asarray(face_colors)[chosen]
    colors = np.clip(base * shade[:, None], 0, 1)

    image = np.zeros((size, size, 4), dtype=np.uint8)
    keep = facing & (depth > 0)
    xs, ys, ds, cs = [], [], [], []
    for dx in (0, 1):
        for dy in (0, 1):
            xs.append(px[keep] + dx)
            ys.append(py[keep] + dy)
            ds.append(depth[keep])
            cs.append(colors[keep])
    xs, ys, ds, cs = (np.concatenate(a) for a in (xs, ys, ds, cs))
    inside = (xs >= 0) & (xs < size) & (ys >= 0) & (ys < size)
    xs, ys, ds, cs = xs[inside], ys[inside], ds[inside], cs[inside]
    pixel = ys * size + xs
    order = np.lexsort((ds, pixel))                      # by pixel, nearest first
    first = order[np.unique(pixel[order], return_index=True)[1]]
    flat = image.reshape(-1, 4)
    flat[pixel[first], :3] = (cs[first] * 255).astype(np.uint8)
    flat[pixel[first], 3] = 255
    return image
