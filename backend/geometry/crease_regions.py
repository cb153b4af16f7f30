"""Greedy region merging along weak boundaries: parts are what concave creases enclose.

Every face starts as its own region. Repeatedly the two adjacent regions with the weakest common
boundary merge, where a boundary's strength is its length-weighted mean concavity
(1 - cos of the dihedral angle on concave edges, 0 on flat or convex ones). Flat and convex
patches therefore fuse first, and what is left are regions separated by concave creases, such as
where a leg meets a table top. Regions under a minimum area merge before any real boundary.
"""
from __future__ import annotations

import heapq
from typing import Callable

import numpy as np

from .mesh_graph import FaceGraph


def edge_concavity(graph: FaceGraph) -> np.ndarray:
    """Per dual edge: 1 - cos(dihedral) where the surface folds inwards, else 0."""
    return np.where(graph.concave, 1.0 - np.cos(graph.angle), 0.0)


def merge_regions(graph: FaceGraph, threshold: float | None, target: int | None, min_share: float,
                  check: Callable[[], None] | None = None) -> tuple[np.ndarray, list[float]]:
    """Labels (0..n-1) after merging, and the strengths of the boundaries that were merged, in order.

    Stops when the weakest boundary is stronger than ``threshold`` (auto) or when ``target``
    regions remain (fixed count); regions under ``min_share`` of the area always merge.
    """
    n = graph.num_faces
    parent = np.arange(n)
    area = graph.areas.astype(np.float64).copy()
    total_area = float(area.sum()) or 1.0
    min_area = min_share * total_area
    concavity = edge_concavity(graph)
    neighbours: list[dict[int, list[float]]] = [dict() for _ in range(n)]
    for (a, b), length, conc in zip(graph.pairs.tolist(), graph.edge_length.tolist(), concavity.tolist()):
        if a == b:
            continue
        entry = neighbours[a].setdefault(b, [0.0, 0.0])
        entry[0] += length * conc
        entry[1] += length
        neighbours[b][a] = entry

    def key(a: int, b: int) -> tuple[int, float]:
        weighted, length = neighbours[a][b]
        strength = weighted / length if length > 0 else 0.0
        small = area[a] < min_area or area[b] < min_area
        return (0 if small else 1, strength)

    heap = [(key(a, b), a, b) for a in range(n) for b in neighbours[a] if a < b]
    heapq.heapify(heap)
    alive = n
    merged: list[float] = []
    steps = 0
    while heap and alive > 1:
        steps += 1
        if check is not None and steps % 2048 == 0:
            check()
        stored, a, b = heapq.heappop(heap)
        if parent[a] != a or parent[b] != b or b not in neighbours[a]:
            continue
        current = key(a, b)
        if current != stored:
            heapq.heappush(heap, (current, a, b))
            continue
        small, strength = current
        if small == 1:
            if target is not None and alive <= target:
                break
            if target is None and threshold is not None and strength > threshold:
                break
        # merge the smaller-neighbourhood region into the larger one
        if len(neighbours[a]) < len(neighbours[b]):
            a, b = b, a
        parent[b] = a
        area[a] += area[b]
        del neighbours[a][b]
        for c, entry in neighbours[b].items():
            if c == a:
                continue
            del neighbours[c][b]
            if c in neighbours[a]:
                mine = neighbours[a][c]
                mine[0] += entry[0]
                mine[1] += entry[1]
            else:
                neighbours[a][c] = entry
                neighbours[c][a] = entry
            heapq.heappush(heap, (key(a, c), min(a, c), max(a, c)))
        neighbours[b] = {}
        alive -= 1
        merged.append(strength)
    root = parent.copy()
    while True:
        nxt = root[root]
        if (nxt == root).all():
            break
        root = nxt
    _, labels = np.unique(root, return_inverse=True)
    return labels.astype(np.int64), merged
