"""Pair adjacent triangles into quads where together they form a clean quad.

A candidate is an interior edge between two triangles. It is accepted when the two triangles are
nearly coplanar (dihedral angle below ``max_fold`` degrees), the quad is convex, and its corner
angles stay within ``[min_corner, max_corner]``. Candidates are taken greedily, best first, where
best means corners closest to 90 degrees and flattest fold; each triangle joins at most one quad.
"""
from __future__ import annotations

import numpy as np

from .sharp_features import dihedral_angles


def _quad_corners(triangles, edges, pairs):
    """The quad (a, c, b, d) made by triangles sharing edge (a,b), with c and d the opposite corners,
    ordered to follow the first triangle's winding."""
    t0 = triangles[pairs[:, 0]]
    t1 = triangles[pairs[:, 1]]
    a, b = edges[:, 0], edges[:, 1]
    c = np.where((t0 != a[:, None]) & (t0 != b[:, None]), t0, 0).sum(axis=1)
    d = np.where((t1 != a[:, None]) & (t1 != b[:, None]), t1, 0).sum(axis=1)
    # in t0, the corner after c in winding order: the quad goes c -> x -> d -> y
    pos_c = np.argmax(t0 == c[:, None], axis=1)
    after_c = t0[np.arange(len(t0)), (pos_c + 1) % 3]
    before_c = t0[np.arange(len(t0)), (pos_c + 2) % 3]
    return np.stack([c, after_c, d, before_c], axis=1)


def _corner_angles(vertices, quads):
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


def pair_triangles(vertices: np.ndarray, triangles: np.ndarray, max_fold: float = 30.0,
                   min_corner: float = 30.0, max_corner: float = 150.0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``triangles`` into (quads (Q,4), leftover triangles (T,3)), both keeping the winding."""
    vertices = np.asarray(vertices, dtype=np.float64)
    triangles = np.asarray(triangles, dtype=np.int64)
    if len(triangles) < 2:
        return np.zeros((0, 4), np.int64), triangles
    edges, pairs, fold = dihedral_angles(vertices, triangles)
    quads = _quad_corners(triangles, edges, pairs)
    angles, convex = _corner_angles(vertices, quads)
    ok = (fold <= max_fold) & convex & np.all((angles >= min_corner) & (angles <= max_corner), axis=1)
    score = np.abs(angles - 90).max(axis=1) + fold
    cand = np.flatnonzero(ok)
    cand = cand[np.argsort(score[cand], kind="stable")]
    used = np.zeros(len(triangles), bool)
    chosen = []
    for i in cand:
        f0, f1 = pairs[i]
        if not used[f0] and not used[f1]:
            used[f0] = used[f1] = True
            chosen.append(i)
    return quads[np.array(chosen, dtype=np.int64)].reshape(-1, 4), triangles[~used]


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
