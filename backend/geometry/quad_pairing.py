"""Pair adjacent triangles into quads across the whole mesh (a matching on the dual graph).

A candidate is an interior edge between two triangles whose union is a clean quad: convex, corner
angles within ``[min_corner, max_corner]``, and flat enough: a fold (dihedral angle) up to
``max_fold`` degrees, or a nearly planar quad (the diagonals pass within ``max_warp`` of the mean
diagonal length of each other: a thin bevel triangle next to a large face folds steeply but
barely leaves the plane). With ``crease`` set, no quad folds over an edge sharper than it. Every
candidate is weighted by its squareness and flatness, and the pairs come from a matching of the
whole dual graph (``dual_matching.heavy_matching``: as many quads as possible, then the best).
Each quad starts at an end of the shared edge, so its 0-2 diagonal is the edge the two triangles
shared and a fan triangulation gives back the same surface.
"""
from __future__ import annotations

import numpy as np

from .dual_matching import heavy_matching
from .sharp_features import dihedral_angles


def _quad_corners(triangles, edges, pairs):
    """The quad (x, d, y, c) made by triangles sharing edge (x,y), with c and d the opposite
    corners, following the first triangle's winding (c -> x in it)."""
    t0 = triangles[pairs[:, 0]]
    t1 = triangles[pairs[:, 1]]
    a, b = edges[:, 0], edges[:, 1]
    c = np.where((t0 != a[:, None]) & (t0 != b[:, None]), t0, 0).sum(axis=1)
    d = np.where((t1 != a[:, None]) & (t1 != b[:, None]), t1, 0).sum(axis=1)
    pos_c = np.argmax(t0 == c[:, None], axis=1)
    after_c = t0[np.arange(len(t0)), (pos_c + 1) % 3]
    before_c = t0[np.arange(len(t0)), (pos_c + 2) % 3]
    return np.stack([after_c, d, before_c, c], axis=1)


def corner_angles(vertices: np.ndarray, quads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corner angles (degrees, (N,4)) of each quad, and whether it is convex."""
    p = vertices[quads]  # (N,4,3)
    prev = np.roll(p, 1, axis=1) - p
    nxt = np.roll(p, -1, axis=1) - p
    cos = np.einsum("nij,nij->ni", prev, nxt) / np.maximum(
        np.linalg.norm(prev, axis=2) * np.linalg.norm(nxt, axis=2), 1e-300)
    angles = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    # convexity: the corner normals all point the same way
    normals = np.cross(nxt, prev)
    mean = normals.sum(axis=1)
    convex = np.all(np.einsum("nij,nj->ni", normals, mean) > 0, axis=1)
    return angles, convex


def warp(vertices: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """How far each quad leaves a plane: the distance between its two diagonals' lines divided
    by the mean diagonal length (0 for a planar quad)."""
    p = np.asarray(vertices, np.float64)[quads]
    d1, d2 = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    n = np.cross(d1, d2)
    gap = np.abs(np.einsum("ij,ij->i", p[:, 1] - p[:, 0], n)) / np.maximum(np.linalg.norm(n, axis=1), 1e-300)
    return gap / np.maximum(0.5 * (np.linalg.norm(d1, axis=1) + np.linalg.norm(d2, axis=1)), 1e-300)


def pair_triangles(vertices: np.ndarray, triangles: np.ndarray, max_fold: float = 30.0,
                   min_corner: float = 20.0, max_corner: float = 170.0, max_warp: float = 0.1,
                   crease: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split ``triangles`` into (quads (Q,4), leftover triangles (T,3)), both keeping the winding."""
    vertices = np.asarray(vertices, dtype=np.float64)
    triangles = np.asarray(triangles, dtype=np.int64)
    if len(triangles) < 2:
        return np.zeros((0, 4), np.int64), triangles
    edges, pairs, fold = dihedral_angles(vertices, triangles)
    quads = _quad_corners(triangles, edges, pairs)
    angles, convex = corner_angles(vertices, quads)
    bent = warp(vertices, quads)
    ok = convex & np.all((angles >= min_corner) & (angles <= max_corner), axis=1)
    ok &= (fold <= max_fold) | (bent <= max_warp)
    if crease is not None:
        ok &= fold <= crease
    square = 1 - np.abs(angles - 90).max(axis=1) / 90
    weight = 1 + 0.7 * square + 0.3 * (1 - np.minimum(bent / max(max_warp, 1e-9), 1))
    cand = np.flatnonzero(ok)
    chosen = cand[heavy_matching(len(triangles), pairs[cand], weight[cand])]
    used = np.zeros(len(triangles), bool)
    used[pairs[chosen].reshape(-1)] = True
    return quads[chosen].reshape(-1, 4), triangles[~used]


def split_into_quads(vertices: np.ndarray, triangles: np.ndarray, quads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every face cut into quads through its edge midpoints and centre (a triangle gives 3, a
    quad 4): an all-quad mesh of the same flat faces, winding kept. Returns (vertices, quads)."""
    v = np.asarray(vertices, np.float64)
    faces = [np.asarray(triangles, np.int64).reshape(-1, 3), np.asarray(quads, np.int64).reshape(-1, 4)]
    edges = np.concatenate([np.stack([f, np.roll(f, -1, axis=1)], axis=2).reshape(-1, 2) for f in faces])
    keys = np.sort(edges, axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    mid_index = len(v) + inverse.reshape(-1)  # midpoint vertex of each face edge, in face order
    midpoints = 0.5 * (v[unique[:, 0]] + v[unique[:, 1]])
    center_base = len(v) + len(unique)
    out, centers, offset = [], [], 0
    for f in faces:
        if len(f) == 0:
            continue
        n = f.shape[1]
        mids = mid_index[offset:offset + f.size].reshape(-1, n)  # mids[:, k]: edge k -> k+1
        offset += f.size
        center = center_base + len(np.concatenate(centers)) if centers else center_base
        centers.append(v[f].mean(axis=1))
        c = center + np.arange(len(f))
        for k in range(n):
            out.append(np.stack([f[:, k], mids[:, k], c, mids[:, (k - 1) % n]], axis=1))
    all_v = np.concatenate([v, midpoints, *centers]) if centers else v
    return all_v, (np.concatenate(out) if out else np.zeros((0, 4), np.int64))
