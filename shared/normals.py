"""Corner normals smoothed by angle, like Blender's "smooth by angle": the corners around a vertex
share one normal unless an edge sharper than the angle (or an open/non-manifold edge) separates
them. Used when writing GLB, where a file without normals is shown flat-shaded. numpy only.
"""
from __future__ import annotations

import math

import numpy as np


def smooth_groups(positions: np.ndarray, tris: np.ndarray, angle_deg: float = 30.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split triangle corners into smoothing groups.

    Returns (group of each corner, shape (3T,) in ``tris.reshape(-1)`` order; unit normal of each
    group (G,3), area-weighted; the vertex of each group (G,)).
    """
    tris = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
    corners = len(tris) * 3
    if not corners:
        return np.zeros(0, np.int64), np.zeros((0, 3), np.float32), np.zeros(0, np.int64)
    points = np.asarray(positions, dtype=np.float64)
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    weighted = np.cross(b - a, c - a)  # length is twice the area: larger faces weigh more
    length = np.linalg.norm(weighted, axis=1)
    unit = weighted / np.where(length > 0, length, 1.0)[:, None]
    first, second = _smooth_corner_pairs(tris, unit, len(points), math.cos(math.radians(angle_deg)))
    labels = _connected_labels(corners, first, second)
    _, group = np.unique(labels, return_inverse=True)
    group = group.reshape(-1)
    count = int(group.max()) + 1
    face = np.arange(corners) // 3
    sums = np.stack([np.bincount(group, weights=weighted[face, k], minlength=count) for k in range(3)], axis=1)
    norm = np.linalg.norm(sums, axis=1)
    normals = np.where(norm[:, None] > 0, sums / np.where(norm > 0, norm, 1.0)[:, None], [0.0, 0.0, 1.0])
    group_vertex = np.zeros(count, dtype=np.int64)
    group_vertex[group] = tris.reshape(-1)
    return group, normals.astype(np.float32), group_vertex


def _smooth_corner_pairs(tris: np.ndarray, unit: np.ndarray, num_vertices: int, min_cos: float):
    """Pairs of corners (same vertex, neighbouring faces) joined by a smooth manifold edge."""
    start = tris.reshape(-1)
    end = tris[:, [1, 2, 0]].reshape(-1)  # half-edge h runs from corner h to the next corner
    key = np.minimum(start, end) * num_vertices + np.maximum(start, end)
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    j = np.nonzero(same)[0]
    before = np.concatenate([[False], same])[j]
    after = np.concatenate([same, [False]])[j + 1]
    j = j[~before & ~after]  # exactly two half-edges: a manifold edge
    h1, h2 = order[j], order[j + 1]
    smooth = ((unit[h1 // 3] * unit[h2 // 3]).sum(axis=1) >= min_cos) & (start[h1] == end[h2])  # consistent winding
    h1, h2 = h1[smooth], h2[smooth]

    def following(h):
        return 3 * (h // 3) + (h % 3 + 1) % 3

    # h1 runs s->e in one face, h2 runs e->s in the other: join the corners at s and at e.
    return np.concatenate([h1, following(h1)]), np.concatenate([following(h2), h2])


def _connected_labels(count: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Connected components of a graph on ``count`` nodes: each node's smallest member index."""
    labels = np.arange(count)
    while True:
        left, right = labels[first], labels[second]
        differs = left != right
        if not differs.any():
            return labels
        low = np.minimum(left[differs], right[differs])
        np.minimum.at(labels, left[differs], low)  # hook the larger root under the smaller
        np.minimum.at(labels, right[differs], low)
        while True:  # pointer jumping until every node points at its root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
