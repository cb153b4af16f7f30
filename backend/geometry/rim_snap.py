"""Lay a remeshed rim loop along the input's boundary loop by arc length, corners included.

Projecting each rim vertex onto its closest boundary point lets a loop cut across a notch or a
lobe of the input's rim: the vertices on either side land on the two flanks and none at the tip
(bunny10k's base, 2.05% of the diagonal). Here a loop of the output is laid along its input
loop instead: its vertices keep their order and their spacing (measured along the input curve),
and the input vertices the result still misses by more than a tolerance (a tip, a corner) each
take the nearest rim vertex, and the rim vertex next to it on either side is spaced out again
between it and the vertices beyond (the rest of the loop stays where it was projected). Loops are matched one to one: an output loop whose vertices mostly land on one input loop
that no other output loop lands on.
"""
from __future__ import annotations

import numpy as np

from .polymesh import unique_rows

ANCHOR_ROUNDS = 4
MATCH_SHARE = 0.8  # an output loop matches the input loop that at least this share of its vertices land on
MIN_STEP = 0.1  # a rim vertex keeps at least this share of the mean spacing from the one before it
REACH = 2  # an anchor moves the rim vertices this many places either side of it, at most (the one next to it)


def boundary_edges_directed(faces: np.ndarray) -> np.ndarray:
    """Directed edges (E,2) used by one face only, in their face's winding (faces (F,k))."""
    faces = np.asarray(faces, np.int64)
    k = faces.shape[1]
    directed = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2)
    _, inverse, counts = unique_rows(np.sort(directed, axis=1), return_inverse=True, return_counts=True)
    return directed[counts[inverse.reshape(-1)] == 1] if k else directed


def ordered_loops(edges: np.ndarray) -> list[np.ndarray]:
    """Directed edges (E,2) chained into closed vertex loops (3 vertices or more); chains that do
    not close, and loops through a vertex with two outgoing edges, are left out."""
    starts, counts = np.unique(np.asarray(edges, np.int64).reshape(-1, 2)[:, 0], return_counts=True)
    twice = set(starts[counts > 1].tolist())
    following = {int(a): int(b) for a, b in np.asarray(edges, np.int64).reshape(-1, 2) if a not in twice}
    loops, seen = [], set()
    for start in following:
        if start in seen:
            continue
        loop, v = [start], following[start]
        seen.add(start)
        while v != start and v in following and v not in seen:
            loop.append(v)
            seen.add(v)
            v = following[v]
        if v == start and len(loop) >= 3:
            loops.append(np.array(loop, np.int64))
    return loops


class Loop:
    """A closed polyline (the input's boundary loop) parametrised by arc length."""

    def __init__(self, points: np.ndarray):
        self.points = np.asarray(points, np.float64).reshape(-1, 3)
        step = np.linalg.norm(np.roll(self.points, -1, axis=0) - self.points, axis=1)
        self.start = np.concatenate([[0.0], np.cumsum(step)[:-1]])  # arc length at each vertex
        self.length = float(step.sum())

    def at(self, s: np.ndarray) -> np.ndarray:
        """Points at arc lengths ``s`` (any real numbers: taken modulo the length)."""
        s = np.mod(np.asarray(s, np.float64), max(self.length, 1e-300))
        k = np.clip(np.searchsorted(self.start, s, side="right") - 1, 0, len(self.points) - 1)
        a, b = self.points[k], self.points[(k + 1) % len(self.points)]
        seg = np.maximum(np.linalg.norm(b - a, axis=1), 1e-300)
        return a + (b - a) * ((s - self.start[k]) / seg)[:, None]

    def param(self, points: np.ndarray) -> np.ndarray:
        """Arc length of the closest point on the loop to each point (N,3)."""
        k, t, _ = _closest_on_polyline(points, self.points)
        return self.start[k] + t * np.linalg.norm(np.roll(self.points, -1, axis=0)[k] - self.points[k], axis=1)


def _closest_on_polyline(points: np.ndarray, corners: np.ndarray, chunk: int = 2_000_000
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point (N,3), the closest segment of the closed polyline through ``corners`` (M,3),
    the position along it (0..1) and the distance (brute force, ``chunk`` pairs at a time)."""
    a = corners
    ab = np.roll(a, -1, axis=0) - a
    square = np.maximum(np.einsum("kd,kd->k", ab, ab), 1e-300)
    seg, along, dist = (np.zeros(len(points), np.int64), np.zeros(len(points)), np.zeros(len(points)))
    rows = max(1, chunk // max(len(a), 1))
    for lo in range(0, len(points), rows):
        rel = points[lo:lo + rows, None] - a[None]
        t = np.clip(np.einsum("nkd,kd->nk", rel, ab) / square, 0, 1)
        d = np.linalg.norm(rel - t[..., None] * ab[None], axis=2)
        k = d.argmin(axis=1)
        r = np.arange(len(k))
        seg[lo:lo + rows], along[lo:lo + rows], dist[lo:lo + rows] = k, t[r, k], d[r, k]
    return seg, along, dist


def _unwrapped(param: np.ndarray, length: float) -> np.ndarray | None:
    """The loop's vertex parameters made increasing (steps of at least ``MIN_STEP`` of the mean
    spacing, total one turn), or None when the loop does not go once round the input loop in its
    direction."""
    step = np.mod(np.diff(np.concatenate([param, param[:1]])) + length / 2, length) - length / 2
    if abs(step.sum() - length) > 0.25 * length:
        return None
    step = np.maximum(step, MIN_STEP * length / len(param))
    step *= length / step.sum()
    return param[0] + np.concatenate([[0.0], np.cumsum(step[:-1])])


def _through_anchors(u: np.ndarray, anchors: dict[int, float], length: float) -> np.ndarray:
    """Parameters: anchored vertices at their anchors, vertices ``REACH`` or more places from any
    anchor where they were (``u``), and those in between mapped linearly (by ``u``) between the
    fixed ones on either side."""
    n = len(u)
    fixed = {i: float(u[i]) for i in range(n)
             if all(min((i - a) % n, (a - i) % n) >= REACH for a in anchors)}
    fixed.update(anchors)
    keys = sorted(fixed)
    out = u.copy()
    for k, i in enumerate(keys):
        j = keys[(k + 1) % len(keys)]
        span_old = (u[j] - u[i]) % length if j != i else length
        span_new = (fixed[j] - fixed[i]) % length if j != i else length
        for v in ((i + m) % n for m in range(1, (j - i) % n or n)):
            out[v] = fixed[i] + ((u[v] - u[i]) % length) / max(span_old, 1e-300) * span_new
        out[i] = fixed[i]
    return out


def snap_loop(points: np.ndarray, curve: np.ndarray, tolerance: float) -> np.ndarray | None:
    """New positions (N,3) on the closed polyline ``curve`` (M,3) for the loop ``points`` (N,3),
    both in the same winding: see the module docstring; input vertices farther than
    ``tolerance`` from the result become anchors, in up to ``ANCHOR_ROUNDS`` rounds. None when
    the loop does not go once round the curve, or when the result is no closer to the curve
    (:func:`loop_distance`) than the points' closest points on it (either way: a loop wound against the curve is
    laid along it backwards)."""
    loop = Loop(curve)
    points = np.asarray(points, np.float64).reshape(-1, 3)
    if len(points) < 3 or loop.length <= 0:
        return None
    param = loop.param(points)
    u = _unwrapped(param, loop.length)
    if u is not None:
        laid = _laid(loop, u, tolerance)
    else:
        backwards = _unwrapped(param[::-1], loop.length)
        if backwards is None:
            return None
        laid = _laid(loop, backwards, tolerance)[::-1]
    return laid if loop_distance(loop, laid) < loop_distance(loop, loop.at(param)) else None


def loop_distance(loop: Loop, placed: np.ndarray) -> float:
    """Two-sided distance between ``loop`` and the closed polyline through ``placed`` (its
    vertices, and the thirds of its edges, against the loop)."""
    ahead = np.roll(placed, -1, axis=0)
    on_placed = np.concatenate([placed + (ahead - placed) * t for t in (0.0, 1 / 3, 2 / 3)])
    return float(max(_closest_on_polyline(loop.points, placed)[2].max(),
                     _closest_on_polyline(on_placed, loop.points)[2].max()))


def _laid(loop: Loop, u: np.ndarray, tolerance: float) -> np.ndarray:
    """Positions on ``loop`` for vertices at increasing parameters ``u``, anchored at the loop's
    vertices they miss by more than ``tolerance`` (see :func:`snap_loop`): of the rounds, the
    one closest to the loop (:func:`loop_distance`)."""
    best, lowest = loop.at(u), loop_distance(loop, loop.at(u))
    anchors: dict[int, float] = {}
    params = u
    for _ in range(ANCHOR_ROUNDS):
        placed = loop.at(params)
        miss = _closest_on_polyline(loop.points, placed)[2]
        far = np.flatnonzero(miss > tolerance)
        if len(far) == 0:
            break
        added = False
        taken: set[int] = set()
        for c in far[np.argsort(-miss[far])]:
            s = loop.start[c]
            rel = np.mod(s - params, loop.length)  # how far past each vertex the corner lies
            k = int(rel.argmin())  # the vertex just before it; the next one follows
            nxt = (k + 1) % len(params)
            if k in taken or nxt in taken:
                continue  # one anchor per output edge and round: they keep their order
            gap_next = (params[nxt] - s) % loop.length
            pick = k if rel[k] <= gap_next else nxt
            if pick in anchors:
                pick = nxt if pick == k else k
                if pick in anchors:
                    continue
            anchors[pick] = s
            taken.update((k, nxt))
            added = True
        if not added:
            break
        params = _through_anchors(u, anchors, loop.length)
        distance = loop_distance(loop, loop.at(params))
        if distance < lowest:
            best, lowest = loop.at(params), distance
    return best
