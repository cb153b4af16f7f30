"""Where a quad mesh misses the surface it was fitted to, and local refinement until it does not.

:func:`find_gaps` measures both ways, as the bench's Hausdorff distance does, but densely where a
quad can hide a miss: points on every triangle of every quad (centre and edge thirds: a quad from
a horn's tip to the head spans air in its middle, with all four corners on the surface), the
vertices, and input surface samples plus every input vertex; and, on open parts, both rims
against each other (points along every rim edge of the quad mesh, and along the input's rim).
Each miss names the edges to split to close it: its quad's four, or its rim edge. (A piece
without any rim on an open part measures no rim miss: it lost every hole, which the topology
check of ``quad_remesh`` reports.)

:func:`close_gaps` refines the quads at the worst misses (``quad_refine``: all quads, no
T-junctions), fits again, measures again, for a few rounds, never past a face limit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from .polymesh import bbox_diagonal
from .quad_refine import quad_edges, refine, refined_face_count
from .surface_distance import SurfaceQuery, sample_surface
from .surface_fit import Polylines, SurfaceTarget


def _lattice(n: int) -> np.ndarray:
    """Barycentric points (i/n, j/n, k/n) on a triangle, corners left out."""
    points = np.array([(i, j, n - i - j) for i in range(n + 1) for j in range(n + 1 - i)], np.float64) / n
    return points[points.max(axis=1) < 1]


# barycentric points on each triangle of a quad: centre and the thirds of its edges; triangles
# with a point past half the floor are measured again on a finer lattice (the worst point of a
# quad spanning air lies anywhere inside it: 2.03% at these points, 2.37% at 30,000 random ones)
STENCIL = _lattice(3)
FINE_STENCIL = _lattice(10)
INPUT_SAMPLES = 30_000  # input surface samples (besides every input vertex), as many as the bench takes
RIM_SPACING = 1e-3  # input rim points this far apart (share of the diagonal), at most RIM_POINTS
RIM_POINTS = 20_000
REFINE_ROUNDS = 4
# a round refines the misses beyond this share of the limit (0.8: bunny10k's rim took 129 faces
# and 14 singular vertices to 2.03%; 1.0 and more rounds: 18 faces and 6)
MARK_SHARE = 1.0
# a refined mesh is kept only when it cuts the worst miss by this share at least: the faces and
# singular vertices the templates add buy little otherwise (face_scan's overlapping range pieces)
MIN_GAIN = 0.1


@dataclass
class Gaps:
    """Worst distances (shares of the part's diagonal) and the places behind them: ``spots`` (K,4)
    edge ids (``quad_refine.quad_edges``) to split for each measured point beyond ``floor``: the
    four sides of its quad, or its rim edge four times; ``far`` (K,) how far (same share)."""

    surface: float
    rim: float
    spots: np.ndarray
    far: np.ndarray


def _along(a: np.ndarray, b: np.ndarray, spacing: float, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``spacing`` (coarser when there would be more than ``cap``) along segments a-b,
    ends included, and the segment each lies on."""
    length = np.linalg.norm(b - a, axis=1)
    spacing = max(spacing, float(length.sum()) / cap, 1e-30)
    steps = np.maximum(np.ceil(length / spacing), 1).astype(np.int64)
    owner = np.repeat(np.arange(len(a)), steps + 1)
    t = np.concatenate([np.arange(n + 1) / n for n in steps]) if len(steps) else np.zeros(0)
    return a[owner] + t[:, None] * (b[owner] - a[owner]), owner


def _distance_above(points: np.ndarray, target: SurfaceTarget, low: float) -> np.ndarray:
    """Each point's distance to the target surface, exact where it is over ``low``; elsewhere an
    upper bound at most ``low`` (the distance to the nearest point the surface index holds)."""
    bound, _ = target.surface.tree.query(points)
    out = np.array(bound, np.float64)
    far = out > low
    if far.any():
        out[far] = target.surface.distance(points[far])
    return out


def find_gaps(vertices: np.ndarray, quads: np.ndarray, target: SurfaceTarget, floor: float,
              min_hole: float = 0.0) -> Gaps:
    """Measure ``quads`` against ``target`` both ways (see the module docstring); ``spots`` lists
    the places farther than ``floor`` (a share of the diagonal), and the points within half of it
    are measured only as far as to say so. Input holes shorter around than ``min_hole`` (a
    length: :func:`hole_floor`) need no rim in the quads: their rims are not measured against the
    quads' (the surface distance, both ways, covers a hole the quads close)."""
    x = np.asarray(vertices, np.float64)
    quads = np.asarray(quads, np.int64).reshape(-1, 4)
    diag = max(bbox_diagonal(target.vertices), 1e-30)
    tris = quads[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)
    used = np.unique(quads)
    vertex_quad = np.zeros(len(x), np.int64)
    vertex_quad[quads.reshape(-1)] = np.repeat(np.arange(len(quads)), 4)
    # piece -> input: stencil points on every triangle, and every vertex
    on_piece = np.concatenate([np.einsum("sc,tcd->tsd", STENCIL, x[tris]).reshape(-1, 3), x[used]])
    owner = np.concatenate([np.repeat(np.arange(len(tris)) // 2, len(STENCIL)), vertex_quad[used]])
    d_out = _distance_above(on_piece, target, 0.5 * floor * diag) / diag
    again = np.unique(owner[:len(tris) * len(STENCIL)][d_out[:len(tris) * len(STENCIL)] > 0.5 * floor])
    if len(again):
        again = np.concatenate([2 * again, 2 * again + 1])
        finer = np.einsum("sc,tcd->tsd", FINE_STENCIL, x[tris[again]]).reshape(-1, 3)
        on_piece = np.concatenate([on_piece, finer])
        owner = np.concatenate([owner, np.repeat(again // 2, len(FINE_STENCIL))])
        d_out = np.concatenate([d_out, _distance_above(finer, target, 0.5 * floor * diag) / diag])
    # input -> piece: samples and every vertex; only points not within half the floor of a piece point are measured
    pv, pt = target.vertices, target.triangles
    on_input = np.concatenate([sample_surface(pv, pt, INPUT_SAMPLES, seed=11)[0], pv[np.unique(pt)]])
    near, _ = cKDTree(on_piece).query(on_input, distance_upper_bound=0.5 * floor * diag)
    unsure = on_input[np.isinf(near)]
    d_in, in_owner = np.zeros(0), np.zeros(0, np.int64)
    if len(unsure):
        spot, tri = SurfaceQuery(x, tris, samples=len(tris), k=6).closest_points(unsure)
        d_in, in_owner = np.linalg.norm(spot - unsure, axis=1) / diag, tri // 2
    edges, side_edge = quad_edges(quads)
    spots = [side_edge[owner[d_out > floor]], side_edge[in_owner[d_in > floor]]]
    far = [d_out[d_out > floor], d_in[d_in > floor]]
    rim = 0.0
    rims = np.flatnonzero(np.bincount(side_edge.reshape(-1), minlength=len(edges)) == 1)
    if target.boundary is not None and len(rims):
        ends = x[edges[rims]]
        points, edge_of = _along(ends[:, 0], ends[:, 1], RIM_SPACING * diag, RIM_POINTS)
        r_out = np.linalg.norm(target.boundary.closest_points(points) - points, axis=1) / diag
        kept = target.kept_segments(min_hole)
        points, _ = _along(target.boundary.a[kept], target.boundary.b[kept], RIM_SPACING * diag, RIM_POINTS)
        landing, edge_in = Polylines(ends[:, 0], ends[:, 1]).closest(points)
        r_in = np.linalg.norm(landing - points, axis=1) / diag if len(points) else np.zeros(0)
        rim = float(max(r_out.max(), r_in.max(initial=0.0)))
        for r, which in ((r_out, edge_of), (r_in, edge_in)):
            spots.append(np.repeat(rims[which[r > floor]][:, None], 4, axis=1))
            far.append(r[r > floor])
    surface = float(max(d_out.max(), d_in.max() if len(d_in) else 0.0))
    return Gaps(surface, rim, np.concatenate(spots).reshape(-1, 4), np.concatenate(far))


def close_gaps(vertices: np.ndarray, quads: np.ndarray, target: SurfaceTarget, limit: float, max_faces: int,
               settle: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], cancel=None,
               min_hole: float = 0.0) -> tuple[np.ndarray, np.ndarray, Gaps]:
    """While ``find_gaps`` finds a miss beyond ``limit`` (surface or rim, a share of the
    diagonal), split the edges at every place beyond ``MARK_SHARE`` of it, worst first, as many
    as fit in ``max_faces``, and ``settle`` (vertices, quads) -> (vertices, quads) the result
    (fit it onto the surface); at most ``REFINE_ROUNDS`` rounds, and none after a round that
    left the worst miss where it was (the fit cannot lay the new vertices where the miss is: the
    cow's horns, planar's rim lobe, scan_bunny's tiny holes a remesh closed). Returns the closest
    mesh of all rounds, or the given one when none cut its worst miss by ``MIN_GAIN`` (not worth
    the faces), and its measurement. ``min_hole``: as for :func:`find_gaps`."""
    x, quads = np.asarray(vertices, np.float64), np.asarray(quads, np.int64).reshape(-1, 4)
    gaps = find_gaps(x, quads, target, MARK_SHARE * limit, min_hole)
    best, start, lowest = (x, quads, gaps), gaps, _worst(gaps)
    for _ in range(REFINE_ROUNDS):
        if _worst(gaps) <= limit or len(gaps.spots) == 0:
            break
        if cancel is not None:
            cancel.check()
        marked = _marks_within(quads, gaps, max_faces)
        if marked is None:
            break
        x, quads = settle(*refine(x, quads, marked))
        gaps = find_gaps(x, quads, target, MARK_SHARE * limit, min_hole)
        if _worst(gaps) >= lowest:
            break
        lowest = _worst(gaps)
        if lowest < (1 - MIN_GAIN) * _worst(start):
            best = (x, quads, gaps)
    return best


def hole_floor(area: float, faces: int) -> float:
    """The perimeter of one quad when ``faces`` quads of equal size cover ``area``: an input hole
    shorter around than that is smaller than a quad, and a quad mesh of that size may close it."""
    return 4.0 * float(np.sqrt(max(area, 0.0) / max(faces, 1)))


def _worst(gaps: Gaps) -> float:
    return max(gaps.surface, gaps.rim)


def _marks_within(quads: np.ndarray, gaps: Gaps, max_faces: int) -> np.ndarray | None:
    """Edges to split: those of the worst places, as many places as keep the refined mesh within
    ``max_faces`` (bisection on how many); None when not even the worst fits."""
    edges, side_edge = quad_edges(quads)
    spots = gaps.spots[np.argsort(-gaps.far)]

    def marks(k: int) -> np.ndarray:
        out = np.zeros(len(edges), bool)
        out[spots[:k].reshape(-1)] = True
        return out

    if refined_face_count(side_edge, marks(1)) > max_faces:
        return None
    low, high = 1, len(spots)
    while low < high:
        mid = (low + high + 1) // 2
        if refined_face_count(side_edge, marks(mid)) <= max_faces:
            low = mid
        else:
            high = mid - 1
    return marks(low)
