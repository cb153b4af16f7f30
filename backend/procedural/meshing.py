"""From an asset's SDF to training geometry: a watertight mesh with part labels, exact surface
samples with normals, and signed-distance samples near and far from the surface."""
from __future__ import annotations

import numpy as np

from backend.geometry.extract import extract_mesh
from backend.geometry.surface_distance import sample_surface

from .asset import Asset


def padded_bounds(asset: Asset, pad: float = 0.06, max_aspect: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """The asset's box with ``pad`` of air per axis, no axis shorter than 1/``max_aspect`` of the
    longest. Extraction uses the same cell count on every axis, so thin objects (doors, blades,
    fences) get finer cells across their thin axis, up to ``max_aspect`` times finer (beyond that
    flat faces would turn into needlessly many triangles)."""
    lo, hi = asset.bounds()
    extent = hi - lo
    centre = (lo + hi) / 2
    half = np.maximum(extent * (0.5 + pad), extent.max() * (0.5 + pad) / max_aspect)
    return centre - half, centre + half


def watertight_mesh(asset: Asset, resolution: int = 128, progress=None, cancel=None):
    """(vertices (V,3) float32, triangles (F,3) int64, face part index (F,) int32) from the SDF.

    Distances within a thousandth of a cell of zero are read as that thousandth (outside): a grid
    corner lying on the surface would make marching cubes emit coincident vertices there.
    """
    lo, hi = padded_bounds(asset)
    floor = 1e-3 * float((hi - lo).max()) / resolution

    def distance(points):
        d = asset.distance(points)
        return np.where(np.abs(d) < floor, floor, d)

    vertices, faces = extract_mesh(distance, (lo, hi), resolution, progress=progress, cancel=cancel)
    if len(faces) == 0:
        raise ValueError(f"{asset.category}: the SDF has no surface inside its bounds")
    vertices = snap_smooth_vertices(asset.distance, vertices, faces)
    centroids = vertices[faces].mean(1)
    return vertices, faces, asset.labels(centroids)


def project_to_surface(fn, points: np.ndarray, steps: int = 2) -> np.ndarray:
    """Move points onto the zero level of ``fn`` by Newton steps along the gradient, x -= d n.

    Marching cubes places vertices by linear interpolation along cell edges, which flattens
    curved and thin parts by up to a fraction of a cell; this puts them back on the exact surface.
    """
    for _ in range(steps):
        d = fn(points)
        points = points - d[:, None] * sdf_gradient(fn, points, d)
    return points


def snap_smooth_vertices(fn, vertices: np.ndarray, faces: np.ndarray, min_cos: float = 0.95) -> np.ndarray:
    """Project marching-cubes vertices onto the exact surface where it is smooth.

    A vertex moves only if the surface normal where it lands agrees with the mesh's own vertex
    normal (cosine >= ``min_cos``): near sharp edges and corners several vertices would land on
    the same point and fold triangles, so those stay where marching cubes put them.
    """
    v = vertices.astype(np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    face_n = np.cross(b - a, c - a)
    vertex_n = np.zeros_like(v)
    for k in range(3):
        np.add.at(vertex_n, faces[:, k], face_n)
    vertex_n /= np.maximum(np.linalg.norm(vertex_n, axis=1, keepdims=True), 1e-30)
    moved = project_to_surface(fn, v, steps=1)
    d = fn(moved)
    ok = np.einsum("ij,ij->i", sdf_gradient(fn, moved, d), vertex_n) >= min_cos
    out = np.where(ok[:, None], moved, v).astype(np.float32)
    _, inverse, counts = np.unique(out, axis=0, return_inverse=True, return_counts=True)
    collided = counts[inverse.reshape(-1)] > 1  # two vertices landed on one point: keep both in place
    out[collided] = vertices[collided]
    return out


def sdf_gradient(fn, points: np.ndarray, values: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Unit normals: the forward-difference gradient of ``fn`` at ``points`` (``values`` = fn(points))."""
    grad = np.stack([fn(points + eps * e) - values for e in np.eye(3)], axis=1)
    return grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)


def surface_samples(asset: Asset, vertices: np.ndarray, faces: np.ndarray, count: int, seed: int):
    """``count`` points on the exact zero level (area-weighted mesh samples moved one Newton step
    along the gradient), their unit normals and part labels."""
    points = project_to_surface(asset.distance, sample_surface(vertices, faces, count, seed)[0], steps=1)
    d, labels = asset.nearest(points)
    return points, sdf_gradient(asset.distance, points, d), labels
