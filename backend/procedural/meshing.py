"""From an asset's SDF to training geometry: a watertight mesh with part labels, exact surface
samples with normals, and signed-distance samples near and far from the surface."""
from __future__ import annotations

import numpy as np

from backend.geometry.extract import extract_mesh
from backend.geometry.surface_distance import sample_surface

from .asset import Asset


def cube_bounds(asset: Asset, pad: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """A cube around the asset with ``pad`` (fraction of its longest side) of air on every side."""
    lo, hi = asset.bounds()
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * (1 + 2 * pad)
    return centre - half, centre + half


def watertight_mesh(asset: Asset, resolution: int = 128, progress=None, cancel=None):
    """(vertices (V,3) float32, triangles (F,3) int64, face part index (F,) int32) from the SDF."""
    vertices, faces = extract_mesh(asset.distance, cube_bounds(asset), resolution,
                                   progress=progress, cancel=cancel)
    if len(faces) == 0:
        raise ValueError(f"{asset.category}: the SDF has no surface inside its bounds")
    centroids = vertices[faces].mean(1)
    return vertices, faces, asset.labels(centroids)


def sdf_gradient(fn, points: np.ndarray, values: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Unit normals: the forward-difference gradient of ``fn`` at ``points`` (``values`` = fn(points))."""
    grad = np.stack([fn(points + eps * e) - values for e in np.eye(3)], axis=1)
    return grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)


def surface_samples(asset: Asset, vertices: np.ndarray, faces: np.ndarray, count: int, seed: int):
    """``count`` points on the exact zero level (mesh samples moved one Newton step along the
    gradient, x -= d * n), their unit normals and part labels."""
    points, _ = sample_surface(vertices, faces, count, seed)
    d = asset.distance(points)
    points = points - d[:, None] * sdf_gradient(asset.distance, points, d)
    d, labels = asset.nearest(points)
    return points, sdf_gradient(asset.distance, points, d), labels
