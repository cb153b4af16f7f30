"""Parts from approximate convex decomposition (CoACD, run in a child process).

CoACD cuts a shape along concave regions into near-convex pieces; every input face joins the
hull it lies in (or is nearest outside of), then regions are cleaned like the spectral path.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from .isolated import run_isolated
from .mesh_graph import face_graph, weld
from .segmentation import MIN_PART_AREA, merge_small_regions

CONCAVITY_THRESHOLD = 0.1  # CoACD's stopping concavity; larger = fewer, coarser parts


def hull_outside_distance(points: np.ndarray, hull_points: np.ndarray) -> np.ndarray:
    """Signed distance-like value of ``points`` to a convex hull (<= 0 inside)."""
    try:
        equations = ConvexHull(hull_points).equations  # rows (nx, ny, nz, d), n unit length
    except (QhullError, ValueError):
        center = hull_points.mean(axis=0)
        return np.linalg.norm(points - center, axis=1)
    return (points @ equations[:, :3].T + equations[:, 3]).max(axis=1)


def convex_labels(positions: np.ndarray, triangles: np.ndarray, num_parts: int = 0,
                  check: Callable[[], None] | None = None) -> np.ndarray:
    """Per-triangle part labels of one connected mesh from CoACD's hulls."""
    positions, triangles = weld(np.asarray(positions, dtype=np.float64), triangles)
    out = run_isolated("backend.geometry.convex_worker",
                       {"positions": positions, "triangles": triangles.astype(np.int64)},
                       {"threshold": CONCAVITY_THRESHOLD, "max_hulls": num_parts if num_parts > 0 else -1},
                       check=check)
    offsets = out["hull_offsets"]
    hulls = [out["hull_points"][offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    if len(hulls) <= 1:
        return np.zeros(len(triangles), dtype=np.int64)
    centroids = positions[triangles].mean(axis=1)
    distance = np.stack([hull_outside_distance(centroids, h) for h in hulls], axis=1)
    labels = np.argmin(distance, axis=1)
    graph = face_graph(positions, triangles)
    return merge_small_regions(labels, graph, MIN_PART_AREA, num_parts if num_parts > 0 else None)
