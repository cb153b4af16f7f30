"""Connected components as parts, and grouping many components down to a part budget."""
from __future__ import annotations

import numpy as np

from .mesh_graph import components, face_graph, weld


def face_components(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Component id per triangle, after welding duplicate vertices (largest area first)."""
    welded_pos, welded_tri = weld(positions, triangles)
    graph = face_graph(welded_pos, welded_tri)
    count, labels = components(len(welded_tri), graph.pairs)
    area = np.bincount(labels, weights=graph.areas, minlength=count)
    order = np.argsort(-area, kind="stable")
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count)
    return rank[labels]


def group_components(labels: np.ndarray, positions: np.ndarray, triangles: np.ndarray, target: int,
                     min_share: float = 0.0) -> np.ndarray:
    """Merge components into at most ``target`` groups (and none below ``min_share`` of the area).

    The smallest group joins the group whose bounding box is nearest to its own, so debris
    sticks to what it touches. Returns labels 0..n-1.
    """
    tri = positions[triangles]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    count = int(labels.max()) + 1
    area = np.bincount(labels, weights=areas, minlength=count)
    low = np.full((count, 3), np.inf)
    high = np.full((count, 3), -np.inf)
    pts = tri.reshape(-1, 3)
    owner = np.repeat(labels, 3)
    np.minimum.at(low, owner, pts)
    np.maximum.at(high, owner, pts)
    parent = np.arange(count)
    alive = np.ones(count, dtype=bool)
    total = float(area.sum()) or 1.0
    while alive.sum() > 1:
        live = np.flatnonzero(alive)
        small = live[np.argmin(area[live])]
        if alive.sum() <= max(target, 1) and area[small] >= min_share * total:
            break
        others = live[live != small]
        gap = np.maximum(0.0, np.maximum(low[others] - high[small], low[small] - high[others]))
        into = others[np.argmin(np.linalg.norm(gap, axis=1))]
        parent[parent == small] = into
        area[into] += area[small]
        low[into] = np.minimum(low[into], low[small])
        high[into] = np.maximum(high[into], high[small])
        alive[small] = False
    _, relabel = np.unique(parent[labels], return_inverse=True)
    return relabel.astype(np.int64)
