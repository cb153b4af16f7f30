"""A large, heavy matching on a sparse graph (the dual graph of a triangle mesh: degree <= 3).

Exact maximum-weight matching (Edmonds' blossom) is O(n^3) in pure Python; a 1,000-triangle dual
graph already takes seconds. Here: greedy by weight, then augmenting paths (alternating BFS from
every free vertex, blossoms not contracted, so a path is only missed when it needs an odd cycle),
breadth first (so each path is a shortest one found), then 2-swaps that raise the weight without
losing a pair. On triangle-mesh duals this reaches the maximum cardinality on all but a few
vertices (measured against networkx's exact matching in the tests).
"""
from __future__ import annotations

from collections import deque

import numpy as np


def _adjacency(n: int, edges: np.ndarray, weights: np.ndarray) -> list[list[tuple[int, int]]]:
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for k, (a, b) in enumerate(edges.tolist()):
        adj[a].append((b, k))
        adj[b].append((a, k))
    for row in adj:
        row.sort(key=lambda item: -weights[item[1]])
    return adj


def _greedy(n: int, edges: np.ndarray, weights: np.ndarray) -> list[int]:
    mate = [-1] * n
    for k in np.argsort(-weights, kind="stable").tolist():
        a, b = edges[k]
        if mate[a] < 0 and mate[b] < 0:
            mate[a], mate[b] = b, a
    return mate


def _augment_from(root: int, mate: list[int], adj, max_depth: int) -> bool:
    """Find an alternating path root -> ... -> free vertex and flip it; True when found."""
    parent = {root: -1}  # outer vertex -> the inner vertex it was reached through
    inner_from: dict[int, int] = {}  # inner vertex -> the outer vertex before it
    depth = {root: 0}
    queue = deque([root])
    while queue:
        x = queue.popleft()
        if depth[x] >= max_depth:
            continue
        for y, _ in adj[x]:
            if y == root or y in parent or y in inner_from or y == mate[x]:
                continue
            inner_from[y] = x
            if mate[y] < 0:  # free: flip the path back to the root
                while True:
                    x = inner_from[y]
                    before = parent[x]
                    mate[y], mate[x] = x, y
                    if before < 0:
                        return True
                    y = before
            z = mate[y]
            if z in parent or z in inner_from:
                continue
            parent[z] = y
            depth[z] = depth[x] + 1
            queue.append(z)
    return False


def _swap_pass(mate: list[int], adj, weights: np.ndarray, edge_of: dict) -> int:
    """2-swaps: matched (a,b), (c,d) with a-c, b-d edges of more total weight -> swapped."""
    swaps = 0
    for a in range(len(mate)):
        b = mate[a]
        if b < 0:
            continue
        wab = weights[edge_of[(min(a, b), max(a, b))]]
        for c, kac in adj[a]:
            d = mate[c]
            if c == b or d < 0 or d == a:
                continue
            kbd = edge_of.get((min(b, d), max(b, d)))
            if kbd is None:
                continue
            wcd = weights[edge_of[(min(c, d), max(c, d))]]
            if weights[kac] + weights[kbd] > wab + wcd + 1e-9:
                mate[a], mate[c], mate[b], mate[d] = c, a, d, b
                swaps += 1
                break
    return swaps


def heavy_matching(n: int, edges: np.ndarray, weights: np.ndarray, max_depth: int = 64) -> np.ndarray:
    """Indices into ``edges`` (E,2) of a matching of ``n`` vertices: as many pairs as augmenting
    paths up to ``max_depth`` steps can reach, then heavier where a 2-swap helps."""
    edges = np.asarray(edges, np.int64).reshape(-1, 2)
    weights = np.asarray(weights, np.float64)
    if len(edges) == 0:
        return np.zeros(0, np.int64)
    adj = _adjacency(n, edges, weights)
    mate = _greedy(n, edges, weights)
    for root in range(n):
        if mate[root] < 0 and adj[root]:
            _augment_from(root, mate, adj, max_depth)
    edge_of = {(min(a, b), max(a, b)): k for k, (a, b) in enumerate(edges.tolist())}
    for _ in range(4):
        if not _swap_pass(mate, adj, weights, edge_of):
            break
    chosen = sorted(edge_of[(a, b)] for a, b in enumerate(mate) if a < b)
    return np.array(chosen, np.int64)
