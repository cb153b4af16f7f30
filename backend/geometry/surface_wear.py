"""Where a surface wears and where dirt gathers, and the relief a normal map is made from.

* Edge wear: texels within ~1% of the object's size of a sharp convex (or open) edge, broken up
  by noise, so corners and rims chip while faces stay whole.
* Dirt: places the sky cannot see (ambient occlusion from depth maps in many directions:
  a vertex is open to a direction when no other surface hides it there) and concave creases.
* :func:`height_to_normal`: a tangent-space normal map from a baked height image (UV space:
  +X = +U, +Y = +V, so it matches glTF/Blender tangents from the UVs).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from .bake import TexelMap
from .camera import Camera
from .noise import fbm
from .raster import rasterize

Check = Callable[[], None]


def _nothing() -> None:
    pass


def welded(positions: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices merged by position: (unique positions, triangles on them, original -> unique map)."""
    scale = float(np.linalg.norm(positions.max(0) - positions.min(0))) or 1.0
    keys = np.round(positions / (scale * 1e-6)).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    return positions[first], inverse[triangles], inverse


def _normals(positions: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit face normals (T,3) and area-weighted unit vertex normals (V,3)."""
    tri = positions[triangles]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vertex = np.zeros_like(positions)
    for corner in range(3):
        vertex += np.stack([np.bincount(triangles[:, corner], cross[:, axis], len(positions))
                            for axis in range(3)], axis=1)
    face = cross / np.maximum(np.linalg.norm(cross, axis=1, keepdims=True), 1e-30)
    vertex /= np.maximum(np.linalg.norm(vertex, axis=1, keepdims=True), 1e-30)
    return face, vertex


def vertex_convexity(positions: np.ndarray, triangles: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Mean sine of the angle between each vertex's tangent plane and its edges (+ convex, - concave)."""
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    total = np.zeros(len(positions))
    count = np.zeros(len(positions))
    for a, b in ((edges[:, 0], edges[:, 1]), (edges[:, 1], edges[:, 0])):
        d = positions[a] - positions[b]
        length = np.maximum(np.linalg.norm(d, axis=1), 1e-30)
        total += np.bincount(a, np.einsum("ij,ij->i", normals[a], d) / length, len(positions))
        count += np.bincount(a, minlength=len(positions))
    return total / np.maximum(count, 1)


def sphere_directions(count: int) -> np.ndarray:
    """``count`` roughly even unit directions (Fibonacci sphere)."""
    i = np.arange(count) + 0.5
    z = 1 - 2 * i / count
    angle = np.pi * (1 + 5 ** 0.5) * i
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(angle), r * np.sin(angle), z], axis=1)


def vertex_exposure(positions: np.ndarray, triangles: np.ndarray, normals: np.ndarray, directions: int = 12,
                    size: int = 112, check: Check = _nothing) -> np.ndarray:
    """Cosine-weighted share of directions from which each vertex is seen (1 = open, 0 = buried).

    Each direction is an orthographic depth map of the triangles facing it (back faces cannot be
    the nearest surface of a closed mesh, so they are skipped); a vertex is seen when it is
    within a pixel-sized bias of that depth.
    """
    low, high = positions.min(0), positions.max(0)
    center = 0.5 * (low + high)
    radius = 0.5 * float(np.linalg.norm(high - low)) or 1.0
    tri = positions[triangles]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    bias = 2.5 * (2.05 * radius / size)
    seen_weight = np.zeros(len(positions))
    total_weight = np.zeros(len(positions))
    for d in sphere_directions(directions):
        check()
        up = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
        right = np.cross(up, d)
        right /= np.linalg.norm(right)
        camera = Camera(np.stack([right, np.cross(d, right), d]), center + d * 3 * radius, size, size,
                        ortho_height=2.05 * radius, ortho_width=2.05 * radius)
        xy, depth = camera.project(positions)
        front = triangles[face_n @ d > 0]
        raster = rasterize(xy[front], size, size, depth=depth[front])
        col = np.clip(xy[:, 0].astype(np.int64), 0, size - 1)
        row = np.clip(xy[:, 1].astype(np.int64), 0, size - 1)
        cos = np.clip(normals @ d, 0, None)
        seen_weight += cos * (depth <= raster.depth[row, col] + bias)
        total_weight += cos
    return np.clip(seen_weight / np.maximum(total_weight, 1e-9), 0, 1)


def sharp_edges(positions: np.ndarray, triangles: np.ndarray, face_n: np.ndarray,
                angle: float = 35.0) -> np.ndarray:
    """(E,2) vertex pairs of convex edges sharper than ``angle`` degrees, and open (boundary) edges."""
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    face = np.tile(np.arange(len(triangles)), 3)
    opposite = np.concatenate([triangles[:, 2], triangles[:, 0], triangles[:, 1]])
    key = np.sort(edges, axis=1)
    order = np.lexsort((key[:, 1], key[:, 0]))
    key, face, opposite = key[order], face[order], opposite[order]
    same = (key[1:] == key[:-1]).all(axis=1)
    first = np.concatenate([[True], ~same])
    count = np.diff(np.concatenate([np.flatnonzero(first), [len(key)]]))
    open_edges = key[first][count == 1]
    pair = np.flatnonzero(same)
    a, b = face[pair], face[pair + 1]
    bend = np.einsum("ij,ij->i", face_n[a], face_n[b]) < np.cos(np.radians(angle))
    # convex when the other face's far corner lies below this face's plane
    below = np.einsum("ij,ij->i", face_n[a], positions[opposite[pair + 1]] - positions[key[pair, 0]]) < 0
    return np.concatenate([key[pair][bend & below], open_edges])


def edge_distance(points: np.ndarray, positions: np.ndarray, edges: np.ndarray, spacing: float,
                  limit: int = 400_000) -> np.ndarray:
    """Distance from each point to the nearest of ``edges`` (sampled every ``spacing``)."""
    if len(edges) == 0:
        return np.full(len(points), np.inf)
    start, stop = positions[edges[:, 0]], positions[edges[:, 1]]
    length = np.linalg.norm(stop - start, axis=1)
    spacing = max(spacing, float(length.sum()) / limit)
    steps = np.maximum(1, np.ceil(length / spacing).astype(np.int64))
    owner = np.repeat(np.arange(len(edges)), steps + 1)
    t = np.arange(len(owner)) - np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)
    t = t / steps[owner]
    samples = start[owner] + (stop - start)[owner] * t[:, None]
    return cKDTree(samples).query(points, k=1)[0]


def wear_and_dirt(texels: TexelMap, positions: np.ndarray, triangles: np.ndarray, seed: int = 0,
                  check: Check = _nothing) -> tuple[np.ndarray, np.ndarray]:
    """Per-texel edge wear and dirt amounts in [0, 1]."""
    points, tris, _ = welded(np.asarray(positions, dtype=np.float64), np.asarray(triangles))
    face_n, vertex_n = _normals(points, tris)
    diag = float(np.linalg.norm(points.max(0) - points.min(0))) or 1.0
    convex = vertex_convexity(points, tris, vertex_n)
    check()
    exposure = vertex_exposure(points, tris, vertex_n, check=check)
    check()
    width = 0.012 * diag
    near_edge = np.clip(1.0 - edge_distance(texels.points, points, sharp_edges(points, tris, face_n), width / 3)
                        / width, 0, 1)
    texel_convex = texels.interpolate(tris, convex)
    texel_open = texels.interpolate(tris, exposure)
    mottle = fbm(texels.points / diag * 14.0, 2, seed + 11) * 0.5 + 0.5
    wear = np.clip(near_edge * 1.8 - 0.9 * mottle, 0, 1)
    dirt = np.clip((0.75 - texel_open) * 2.0 + np.clip(-texel_convex * 4.0, 0, 1) * 0.5, 0, 1)
    return wear, np.clip(dirt * (0.55 + 0.45 * mottle), 0, 1)


def height_to_normal(height: np.ndarray, strength: float = 2.0) -> np.ndarray:
    """Tangent-space normal map (H,W,3) in [0,1] from a height image (H,W) in [0,1] (row 0 = top, V=1)."""
    d_row, d_col = np.gradient(np.asarray(height, dtype=np.float64))
    n = np.stack([-strength * d_col, strength * d_row, np.ones_like(height)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return n * 0.5 + 0.5
