"""The bake engine: fill UV textures from colour fields or from images seen by cameras.

1. :func:`texel_map` rasterizes the mesh in UV space: every covered texel gets its 3D point and
   normal.
2. Texel values come from a colour field ``f(points, normals) -> {channel: values}``
   (:func:`bake_field`; procedural materials now, learned texture models later) or from
   reference images (:func:`bake_views`): each texel is projected into every view, kept where a
   depth map says it is visible, and blended with weight cos(view angle)^k x image alpha.
3. Texels no view saw take the colour of the nearest seen texels on the surface, in 3D, so the
   fill crosses UV seams correctly (:func:`fill_unseen`); finally the empty gutter between charts
   is filled from the nearest chart texel (:func:`dilate`) so filtering never pulls in black.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .camera import Camera
from .image_sampling import bilinear, uv_to_pixel
from .raster import rasterize

Check = Callable[[], None]
ColorField = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
_FIELD_CHUNK = 262_144


def _nothing() -> None:
    pass


def vertex_normals(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    tri = positions[triangles]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.stack([sum(np.bincount(triangles[:, corner], cross[:, axis], len(positions)) for corner in range(3))
                        for axis in range(3)], axis=1)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


@dataclass
class TexelMap:
    """Covered texels of a square texture: flat ``index`` into (size*size), 3D ``points``/``normals``."""

    size: int
    mask: np.ndarray      # (size, size) bool
    index: np.ndarray     # (N,) flat texel index of each covered texel
    points: np.ndarray    # (N,3)
    normals: np.ndarray   # (N,3) unit
    face: np.ndarray      # (N,) triangle index
    bary: np.ndarray      # (N,3) barycentric coordinates in that triangle

    def image(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Scatter per-texel ``values`` (N,C) into a (size,size,C) image."""
        values = values.reshape(len(self.index), -1)
        out = np.full((self.size * self.size, values.shape[1]), fill, dtype=np.float64)
        out[self.index] = values
        return out.reshape(self.size, self.size, -1)

    def interpolate(self, triangles: np.ndarray, per_vertex: np.ndarray) -> np.ndarray:
        """Per-vertex values (V,...) -> per-texel values (N,...) by barycentric interpolation."""
        corners = np.asarray(per_vertex)[np.asarray(triangles)[self.face]]
        return np.einsum("nk,nk...->n...", self.bary, corners)


def texel_map(positions: np.ndarray, triangles: np.ndarray, corner_uvs: np.ndarray, size: int,
              check: Check = _nothing) -> TexelMap:
    """Rasterize triangles (T,3) with per-corner UVs (T,3,2) into a ``size`` x ``size`` texel map."""
    positions = np.asarray(positions, dtype=np.float64)
    raster = rasterize(uv_to_pixel(corner_uvs, size, size), size, size, check=check)
    index = np.flatnonzero(raster.mask.ravel())
    face = raster.face.ravel()[index]
    bary = raster.bary.reshape(-1, 3)[index]
    points = np.einsum("nk,nkd->nd", bary, positions[triangles[face]])
    vnormals = vertex_normals(positions, triangles)
    normals = np.einsum("nk,nkd->nd", bary, vnormals[triangles[face]])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    tri = positions[triangles]
    flat = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-30)
    normals = np.where(length > 1e-9, normals / np.maximum(length, 1e-30), flat[face])
    return TexelMap(size, raster.mask, index, points, normals, face, bary)


def bake_field(texels: TexelMap, field: ColorField, check: Check = _nothing,
               report: Callable[[float], None] | None = None) -> dict[str, np.ndarray]:
    """Evaluate ``field`` on every covered texel; returns {channel: (N,C) values}."""
    chunks: dict[str, list[np.ndarray]] = {}
    total = len(texels.index)
    for start in range(0, max(total, 1), _FIELD_CHUNK):
        check()
        stop = min(start + _FIELD_CHUNK, total)
        values = field(texels.points[start:stop], texels.normals[start:stop])
        for name, value in values.items():
            chunks.setdefault(name, []).append(np.asarray(value, dtype=np.float64).reshape(stop - start, -1))
        if report is not None:
            report(stop / max(total, 1))
    return {name: np.concatenate(parts) for name, parts in chunks.items()}


@dataclass
class View:
    """A reference image (H,W,4) float RGBA in [0,1] seen by ``camera`` (alpha = object mask)."""

    camera: Camera
    image: np.ndarray


def pixel_footprint(camera: Camera, depth: np.ndarray) -> np.ndarray:
    """World size of one pixel at each depth."""
    if camera.ortho_height is not None:
        return np.full(np.shape(depth), camera.ortho_height / camera.height)
    return np.abs(depth) * 2.0 * np.tan(0.5 * camera.fov_y) / camera.height


def visible(camera: Camera, positions: np.ndarray, triangles: np.ndarray, points: np.ndarray,
            normals: np.ndarray, check: Check = _nothing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which surface ``points`` the camera sees, their pixel coordinates, and cos(view angle).

    A point is visible when its depth is within a bias of the depth map at its pixel; the bias
    grows with the pixel's world size and the surface slope (shadow-map style), so steep
    surfaces are not lost to pixel quantisation.
    """
    diag = float(np.linalg.norm(positions.max(0) - positions.min(0))) or 1.0
    vertex_xy, vertex_depth = camera.project(positions)
    raster = rasterize(vertex_xy[triangles], camera.width, camera.height,
                       depth=vertex_depth[triangles], check=check)
    xy, depth = camera.project(points)
    facing = np.einsum("ij,ij->i", normals, camera.view_directions(points))
    col = np.clip(np.floor(xy[:, 0]).astype(np.int64), 0, camera.width - 1)
    row = np.clip(np.floor(xy[:, 1]).astype(np.int64), 0, camera.height - 1)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < camera.width) & (xy[:, 1] >= 0) & (xy[:, 1] < camera.height)
    bias = 1e-3 * diag + 1.5 * pixel_footprint(camera, depth) / np.maximum(facing, 0.2)
    seen = inside & (depth > 0) & (facing > 0) & (depth <= raster.depth[row, col] + bias)
    return seen, xy, facing


def bake_views(texels: TexelMap, positions: np.ndarray, triangles: np.ndarray, views: list[View],
               sharpness: float = 4.0, check: Check = _nothing,
               report: Callable[[float], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Blend the views onto the texels: colour (N,3) and total weight (N,) (0 = no view saw it)."""
    positions = np.asarray(positions, dtype=np.float64)
    color = np.zeros((len(texels.index), 3))
    weight = np.zeros(len(texels.index))
    for number, view in enumerate(views):
        check()
        seen, xy, facing = visible(view.camera, positions, triangles, texels.points, texels.normals, check)
        keep = seen & (facing > 0.05)
        image = np.asarray(view.image, dtype=np.float64)
        premultiplied = np.concatenate([image[..., :3] * image[..., 3:4], image[..., 3:4]], axis=-1)
        sample = bilinear(premultiplied, xy[keep])
        alpha = sample[:, 3]
        rgb = sample[:, :3] / np.maximum(alpha, 1e-6)[:, None]
        w = facing[keep] ** sharpness * alpha
        color[keep] += rgb * w[:, None]
        weight[keep] += w
        if report is not None:
            report((number + 1) / len(views))
    color = np.divide(color, weight[:, None], out=np.zeros_like(color), where=weight[:, None] > 0)
    return color, weight


def fill_unseen(values: np.ndarray, known: np.ndarray, points: np.ndarray, neighbours: int = 8,
                check: Check = _nothing) -> np.ndarray:
    """Give texels where ``known`` is False the inverse-distance blend of the nearest known texels (3D)."""
    values = np.asarray(values, dtype=np.float64).copy()
    if known.all() or not known.any():
        return values
    tree = cKDTree(points[known])
    k = min(neighbours, int(known.sum()))
    source = values[known]
    unknown = np.flatnonzero(~known)
    for start in range(0, len(unknown), _FIELD_CHUNK):
        check()
        rows = unknown[start:start + _FIELD_CHUNK]
        dist, idx = tree.query(points[rows], k=k)
        dist, idx = dist.reshape(len(rows), k), idx.reshape(len(rows), k)
        w = 1.0 / np.maximum(dist, 1e-9) ** 2
        values[rows] = np.einsum("nk,nkc->nc", w, source[idx]) / w.sum(axis=1, keepdims=True)
    return values


def gutter_source(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """For every pixel, the (rows, cols) of the nearest pixel inside ``mask`` (None: nothing to fill).

    Computed once per texel map and reused for every channel by :func:`dilate`.
    """
    if mask.all() or not mask.any():
        return None
    _, (rows, cols) = ndimage.distance_transform_edt(~mask, return_indices=True)
    return rows, cols


def dilate(image: np.ndarray, mask: np.ndarray,
           source: tuple[np.ndarray, np.ndarray] | None | bool = False) -> np.ndarray:
    """Fill pixels outside ``mask`` with the value of the nearest pixel inside (UV gutters).

    Pass ``source`` from :func:`gutter_source` to reuse one distance transform for many images.
    """
    if source is False:
        source = gutter_source(mask)
    if source is None:
        return image
    rows, cols = source
    return image[rows, cols]


def to_rgba8(image: np.ndarray) -> np.ndarray:
    """(H,W,1|3) float in [0,1] -> (H,W,4) uint8 RGBA (grey replicated, opaque alpha)."""
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    rgb = np.clip(np.round(image[..., :3] * 255.0), 0, 255).astype(np.uint8)
    alpha = np.full(rgb.shape[:2] + (1,), 255, dtype=np.uint8)
    return np.concatenate([rgb, alpha], axis=-1)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB between two arrays of values in [0, peak]."""
    mse = float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)
