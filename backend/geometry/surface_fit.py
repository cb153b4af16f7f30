"""Fit a remeshed quad mesh back onto the surface it was made from; the quads never change,
only where their vertices sit.

1. projection: every vertex moves to its closest point on the input; vertices on the quad
   mesh's boundary move onto the input's boundary curves, so an output hole follows the input's;
2. tangential relaxation, ``iterations`` times: every vertex moves toward the mean of its
   neighbours within the surface's tangent plane (boundary vertices along their curve), then is
   projected again; vertices where the quad mesh folds sharply (an edge loop the remesher laid
   on a crease) stay where they are projected;
3. crease snapping (when ``sharp_angle`` is given): vertices close to a crease of the input
   (edges whose faces meet at more than ``sharp_angle`` degrees) move onto the crease lines;
4. Hausdorff pull: input points (surface samples and vertices) farther than ``pull_share`` of
   the input's diagonal from the result (a cone's tip, a thin ear the remesher lost) pull their
   nearest free vertex onto them, and points of the result that far from the input (a quad
   spanning air) pull theirs onto the input, farthest first, in rounds until none is left or no
   vertex can move;
5. rims laid along the input's boundary loops by arc length (``rim_snap``: a corner or a tip of
   the input's rim that the closest-point projection skips gets a vertex), the quads next to
   them relaxed around them.
A move that would turn a quad corner over (relative to the quad before the move) is cut to half,
then a quarter, then undone; so is one that would put a vertex exactly on another.

Before the fit, :func:`quads_over_holes` finds the quads a remesher laid over a hole of the input
(drop them; the fit then snaps the new rim). Build a :class:`SurfaceTarget` once per part when
several candidates are fitted to it.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .polymesh import bbox_diagonal, unique_rows
from .rim_snap import MATCH_SHARE, boundary_edges_directed, ordered_loops, snap_loop
from .sharp_features import dihedral_angles
from .surface_distance import SurfaceQuery, closest_points_on_triangles, sample_surface

PULL_SHARE = 0.015  # input points farther than this share of the diagonal pull a vertex onto them
PULL_ROUNDS = 12
PULL_SAMPLES = 20_000  # input surface samples checked by the pull (besides its vertices), at most
SAMPLES_PER_QUAD = 10
COVER_SAMPLES = 20_000  # the projection index holds at least this many points (centroids + samples)
RELAX_STEP = 0.5
LOCK_FOLD_DEG = 35.0  # a vertex whose quads meet at more than this is a feature: not relaxed
FACING_CANDIDATES = 32  # indexed surface points searched for a triangle facing a vertex's way
HOLE_REACH = 0.25  # a quad whose centre is this many edge lengths past the input's rim covers a hole
RIM_TOLERANCE = 0.005  # input rim vertices farther than this share of the diagonal from the laid rim anchor it
RIM_CARRY = (0.6, 0.3)  # share of the rim's shift the first and second ring of inside vertices follow
RIM_ROUNDS = 2  # rims laid along the input's loops, then the inside relaxed around them, this many times


class Polylines:
    """Closest points on a set of line segments (boundary or crease curves)."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray, k: int = 4):
        self.a = np.asarray(starts, np.float64).reshape(-1, 3)
        self.b = np.asarray(ends, np.float64).reshape(-1, 3)
        length = np.linalg.norm(self.b - self.a, axis=1)
        spacing = max(float(np.median(length)) if len(length) else 0.0, 1e-30)
        count = np.clip(np.ceil(length / spacing), 1, 64).astype(np.int64)
        owner = np.repeat(np.arange(len(self.a)), count)
        rank = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
        t = (rank + 0.5) / count[owner]
        samples = self.a[owner] + (self.b - self.a)[owner] * t[:, None]
        self.owner = owner
        self.tree = cKDTree(samples)
        self.k = min(k, len(owner))

    def closest_points(self, points: np.ndarray) -> np.ndarray:
        """The closest point on any segment to each point (N,3)."""
        return self.closest(points)[0]

    def closest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The closest point on any segment to each point (N,3), and that segment's index."""
        points = np.asarray(points, np.float64).reshape(-1, 3)
        if len(points) == 0:
            return points.copy(), np.zeros(0, np.int64)
        _, near = self.tree.query(points, k=self.k)
        seg = self.owner[np.asarray(near).reshape(len(points), self.k)]
        a, b = self.a[seg], self.b[seg]  # (N,k,3)
        ab = b - a
        t = np.einsum("nkd,nkd->nk", points[:, None] - a, ab) / np.maximum(np.einsum("nkd,nkd->nk", ab, ab), 1e-300)
        closest = a + ab * np.clip(t, 0, 1)[..., None]
        best = np.linalg.norm(closest - points[:, None], axis=2).argmin(axis=1)
        rows = np.arange(len(points))
        return closest[rows, best], seg[rows, best]


def boundary_curves(triangles: np.ndarray) -> np.ndarray:
    """Edges (E,2) used by exactly one triangle."""
    edges, counts = unique_rows(np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1), return_counts=True)
    return edges[counts == 1]


def boundary_pieces(vertices: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The connected pieces of the boundary ``edges`` (E,2): each edge's piece (E,) and each
    piece's length."""
    count = len(vertices)
    if len(edges) == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    _, label = connected_components(graph, directed=False)
    _, piece = np.unique(label[edges[:, 0]], return_inverse=True)
    length = np.bincount(piece, weights=np.linalg.norm(vertices[edges[:, 1]] - vertices[edges[:, 0]], axis=1))
    return piece, length


def crease_edges(vertices: np.ndarray, triangles: np.ndarray, sharp_angle: float) -> np.ndarray:
    """Interior edges (E,2) whose two triangles meet at more than ``sharp_angle`` degrees."""
    edges, _, fold = dihedral_angles(vertices, triangles)
    return edges[fold > sharp_angle]


class _QuadMesh:
    """Connectivity of the quad mesh being fitted: neighbours, boundary, corner orientation."""

    def __init__(self, quads: np.ndarray, x: np.ndarray):
        self.quads = quads
        count = len(x)
        edges, counts = unique_rows(np.sort(quads[:, [0, 1, 1, 2, 2, 3, 3, 0]].reshape(-1, 2), axis=1),
                                    return_counts=True)
        self.used = np.zeros(count, bool)
        self.used[quads.reshape(-1)] = True
        self.boundary = np.zeros(count, bool)
        self.boundary[edges[counts == 1].reshape(-1)] = True
        # boundary vertices average their boundary neighbours only (they slide along the curve)
        keep = (counts == 1) | ~(self.boundary[edges[:, 0]] | self.boundary[edges[:, 1]])
        e = edges[keep]
        ones = np.ones(2 * len(e))
        self.adjacency = coo_matrix((ones, (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])),
                                    shape=(count, count)).tocsr()
        self.degree = np.asarray(self.adjacency.sum(axis=1)).reshape(-1)
        self.rim_edges = edges[counts == 1]

    def neighbour_mean(self, x: np.ndarray) -> np.ndarray:
        mean = self.adjacency @ x
        return np.where(self.degree[:, None] > 0, mean / np.maximum(self.degree, 1)[:, None], x)

    def quad_normals(self, x: np.ndarray) -> np.ndarray:
        p = x[self.quads]
        return np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])

    def vertex_normals(self, x: np.ndarray) -> np.ndarray:
        n = self.quad_normals(x)
        out = np.zeros_like(x)
        for c in range(4):
            np.add.at(out, self.quads[:, c], n)
        return out / np.maximum(np.linalg.norm(out, axis=1), 1e-300)[:, None]

    def corners_upright(self, x: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """(F,4): whether each corner turns the same way as ``normals`` (one per quad)."""
        p = x[self.quads]
        turn = np.cross(np.roll(p, -1, axis=1) - p, np.roll(p, 1, axis=1) - p)
        return np.einsum("fcd,fd->fc", turn, normals) > 0

    def feature_vertices(self, x: np.ndarray, fold_deg: float) -> np.ndarray:
        """Vertices where two of their quads meet at more than ``fold_deg`` degrees, or where the
        boundary turns by more than that."""
        n = self.quad_normals(x)
        n = n / np.maximum(np.linalg.norm(n, axis=1), 1e-300)[:, None]
        mean = self.vertex_normals(x)
        cos = np.full(len(x), 1.0)
        for c in range(4):
            np.minimum.at(cos, self.quads[:, c], np.einsum("fd,fd->f", n, mean[self.quads[:, c]]))
        # the unit vectors to a vertex's two rim neighbours add up to 2 sin(turn / 2)
        a, b = self.rim_edges[:, 0], self.rim_edges[:, 1]
        unit = x[b] - x[a]
        unit /= np.maximum(np.linalg.norm(unit, axis=1), 1e-300)[:, None]
        pull = np.zeros_like(x)
        np.add.at(pull, a, unit)
        np.add.at(pull, b, -unit)
        corner = np.linalg.norm(pull, axis=1) > 2 * np.sin(np.radians(fold_deg / 2))
        return (cos < np.cos(np.radians(fold_deg / 2))) | (corner & self.boundary)

    def guarded(self, old: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``new`` with the moves undone that turn a quad corner over (relative to the quad before
        the move) or put a vertex exactly where another one is (they would weld into one); and
        which vertices were undone."""
        normals = self.quad_normals(old)
        before = self.corners_upright(old, normals)
        x = new.copy()
        undone = np.zeros(len(x), bool)
        for _ in range(20):
            bad = np.unique(self.quads[np.any(before & ~self.corners_upright(x, normals), axis=1)])
            bad = np.union1d(bad, self._twins(old, x))
            bad = bad[np.any(x[bad] != old[bad], axis=1)]
            if len(bad) == 0:
                return x, undone
            x[bad] = old[bad]
            undone[bad] = True
        undone |= np.any(x != old, axis=1)
        return old.copy(), undone


    def _twins(self, old: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Moved vertices that sit exactly (in float32) where another vertex is: all of them when
        one of the group did not move, else all but the first."""
        used = np.flatnonzero(self.used)
        rows = np.ascontiguousarray(x[used], dtype=np.float32).view(np.dtype((np.void, 12))).reshape(-1)
        _, group, counts = np.unique(rows, return_inverse=True, return_counts=True)
        group = group.reshape(-1)
        shared = counts[group] > 1
        ids, group = used[shared], group[shared]
        moved = np.any(x[ids] != old[ids], axis=1)
        still = np.bincount(group, weights=~moved, minlength=len(counts)) > 0
        first = np.full(len(counts), len(x))
        np.minimum.at(first, group, ids)
        return ids[moved & (still[group] | (ids != first[group]))]

    def stepped(self, old: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`guarded`, then the undone vertices tried again halfway and a quarter of the way;
        returns the positions and which vertices made the whole move."""
        x, undone = self.guarded(old, new)
        whole = ~undone
        for share in (0.5, 0.25):
            if not undone.any():
                break
            proposal = x.copy()
            proposal[undone] = old[undone] + share * (new[undone] - old[undone])
            x, again = self.guarded(x, proposal)
            undone &= again
        return x, whole


class SurfaceTarget:
    """The input surface and its boundary curves, indexed for projection: build it once per part
    and pass it to :func:`fit_to_surface` and :func:`quads_over_holes` for every candidate."""

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray):
        self.vertices = vertices = np.asarray(vertices, np.float64).reshape(-1, 3)
        self.triangles = triangles = np.asarray(triangles, np.int64).reshape(-1, 3)
        # coarse inputs (large triangles, far from their centroids) get area samples besides
        self.surface = SurfaceQuery(vertices, triangles, samples=max(0, COVER_SAMPLES - len(triangles)), k=8,
                                    thorough=False)
        a, b, c = (vertices[triangles[:, i]] for i in range(3))
        n = np.cross(b - a, c - a)
        self.normals = n / np.maximum(np.linalg.norm(n, axis=1), 1e-300)[:, None]
        edges = boundary_curves(triangles)
        self.boundary = Polylines(vertices[edges[:, 0]], vertices[edges[:, 1]]) if len(edges) else None
        # the boundary's closed loops (vertex ids in the triangles' winding), each segment's loop (-1: none)
        self.loops = ordered_loops(boundary_edges_directed(triangles)) if len(edges) else []
        loop_of = np.full(len(vertices), -1)
        for n, loop in enumerate(self.loops):
            loop_of[loop] = n
        self.segment_loop = np.where(loop_of[edges[:, 0]] == loop_of[edges[:, 1]], loop_of[edges[:, 0]], -1)
        # each segment's connected piece of boundary and that piece's length (closed or not)
        self.segment_piece, self.piece_length = boundary_pieces(vertices, edges)

    def kept_segments(self, min_hole: float) -> np.ndarray:
        """(S,) bool: boundary segments on no closed loop or on one at least ``min_hole`` long
        (the holes a quad mesh must keep open)."""
        if self.boundary is None:
            return np.zeros(0, bool)
        return self.piece_length[self.segment_piece] >= min_hole

    def small_holes(self, min_hole: float) -> int:
        """How many boundary pieces (holes) are shorter than ``min_hole``."""
        return int(np.count_nonzero(self.piece_length < min_hole))

    def closest_facing(self, points: np.ndarray, facing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each point (N,3) the closest point on a nearby triangle that faces along ``facing``
        (N,3), and that triangle: among the ``FACING_CANDIDATES`` nearest indexed surface points,
        then 8x as many for the points none of those served; a point with none keeps its place
        (and its closest triangle)."""
        points = np.asarray(points, np.float64).reshape(-1, 3)
        closest, tri = self.surface.closest_points(points)
        closest = points.copy()
        todo = np.arange(len(points))
        for k in (FACING_CANDIDATES, 8 * FACING_CANDIDATES):
            if len(todo) == 0:
                break
            k = min(k, len(self.surface.owner))
            _, near = self.surface.tree.query(points[todo], k=k)
            cand = self.surface.owner[np.asarray(near).reshape(len(todo), k)]
            corners = self.vertices[self.triangles[cand.reshape(-1)]]
            rep = np.repeat(points[todo], k, axis=0)
            spot = closest_points_on_triangles(rep, corners[:, 0], corners[:, 1], corners[:, 2]).reshape(len(todo), k, 3)
            dist = np.linalg.norm(spot - points[todo, None], axis=2)
            dist[np.einsum("nkd,nd->nk", self.normals[cand], facing[todo]) <= 0] = np.inf
            best = dist.argmin(axis=1)
            rows = np.arange(len(todo))
            found = np.isfinite(dist[rows, best])
            closest[todo[found]] = spot[rows, best][found]
            tri[todo[found]] = cand[rows, best][found]
            todo = todo[~found]
        return closest, tri

    def project(self, x: np.ndarray, on_boundary: np.ndarray, facing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row of ``x`` on the surface (``on_boundary`` rows on the boundary curves) and the
        surface normal there. A point whose closest triangle faces against ``facing`` (its quad
        normal: the other side of a thin sheet, or the underside of a horn lying over the head)
        goes to the closest triangle nearby that faces its way (:meth:`closest_facing`), else
        keeps its place."""
        closest, tri = self.surface.closest_points(x)
        agree = np.einsum("nd,nd->n", self.normals[tri], facing)
        sign = 1.0 if np.sum(agree < 0) <= len(agree) / 2 else -1.0  # -1: quads wound the other way
        wrong = np.flatnonzero(sign * agree < 0)
        if len(wrong):
            closest[wrong], tri[wrong] = self.closest_facing(x[wrong], sign * facing[wrong])
        normals = self.normals[tri]
        if self.boundary is not None and on_boundary.any():
            closest[on_boundary] = self.boundary.closest_points(x[on_boundary])
        return closest, normals


def fit_to_surface(vertices: np.ndarray, quads: np.ndarray, part_vertices: np.ndarray, part_triangles: np.ndarray,
                   *, sharp_angle: float | None = None, iterations: int = 3, pull_share: float | None = PULL_SHARE,
                   target: SurfaceTarget | None = None, cancel=None) -> np.ndarray:
    """New positions (V,3) for ``vertices`` so the quads lie on the triangle surface
    (``part_vertices``, ``part_triangles``, or ``target`` built from them); see the module
    docstring. ``pull_share`` (a share of the input's diagonal; None: no pull) is the gap the
    Hausdorff pull closes. Unused vertices stay put."""
    x = np.array(vertices, dtype=np.float64).reshape(-1, 3)
    quads = np.asarray(quads, np.int64).reshape(-1, 4)
    if len(quads) == 0 or len(part_triangles) == 0:
        return x
    target = target or SurfaceTarget(part_vertices, part_triangles)
    pv, pt = target.vertices, target.triangles
    mesh = _QuadMesh(quads, x)
    free = mesh.used & ~mesh.feature_vertices(x, LOCK_FOLD_DEG)

    x = _relax(x, mesh, target, free, iterations, tangential=True, cancel=cancel)
    if sharp_angle is not None:
        x = _snap_to_creases(x, mesh, pv, pt, sharp_angle)
    if pull_share is not None:
        x = _pull_toward_far_points(x, mesh, target, free, pull_share * bbox_diagonal(pv), cancel)
    return _lay_rims(x, mesh, target, free, cancel)


def _lay_rims(x, mesh: _QuadMesh, target: SurfaceTarget, free: np.ndarray, cancel=None) -> np.ndarray:
    """Each rim loop of the quad mesh that lands on one input boundary loop (``MATCH_SHARE`` of
    its vertices; no other rim loop on it) laid along that loop by ``rim_snap.snap_loop``
    (corners and tips the closest-point projection skips get a vertex), folds undone; then the
    quads next to the rims (two rings of vertices) relaxed around them; ``RIM_ROUNDS`` times."""
    if not target.loops or not mesh.boundary.any():
        return x
    rims = ordered_loops(boundary_edges_directed(mesh.quads))
    tolerance = RIM_TOLERANCE * bbox_diagonal(target.vertices)
    for _ in range(RIM_ROUNDS):
        claims: dict[int, list[np.ndarray]] = {}
        for rim in rims:
            _, segment = target.boundary.closest(x[rim])
            ids, counts = np.unique(target.segment_loop[segment], return_counts=True)
            if ids[counts.argmax()] >= 0 and counts.max() >= MATCH_SHARE * len(rim):
                claims.setdefault(int(ids[counts.argmax()]), []).append(rim)
        proposal = x.copy()
        for loop, claimed in claims.items():
            if len(claimed) == 1:
                laid = snap_loop(x[claimed[0]], target.vertices[target.loops[loop]], tolerance)
                if laid is not None:
                    proposal[claimed[0]] = laid
        moved = np.any(proposal != x, axis=1)
        if not moved.any():
            break
        x = mesh.stepped(x, _carried(x, proposal, moved, mesh, target, free))[0]
        near = moved
        for _ in range(2):
            near = near | (mesh.adjacency @ near.astype(np.float64) > 0)
        x = _relax(x, mesh, target, free & near & ~mesh.boundary, 2, tangential=True, cancel=cancel)
    return x


def _carried(x, proposal, moved: np.ndarray, mesh: _QuadMesh, target: SurfaceTarget, free: np.ndarray) -> np.ndarray:
    """``proposal`` (the rims laid) with the free inside vertices of the two rings next to the
    ``moved`` rim vertices carried along (``RIM_CARRY`` of their moved neighbours' mean shift per
    ring) and projected again: a rim vertex that slides along its curve alone turns its quads over."""
    edges = np.sort(mesh.quads[:, [0, 1, 1, 2, 2, 3, 3, 0]].reshape(-1, 2), axis=1)
    edges = unique_rows(edges)
    count = len(x)
    ring_of = coo_matrix((np.ones(2 * len(edges)), (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]])),
                         shape=(count, count)).tocsr()
    shift = np.where(moved[:, None], proposal - x, 0.0)
    done = moved.copy()
    carried = np.zeros(count, bool)
    for share in RIM_CARRY:
        touching = ring_of @ done.astype(np.float64)
        ring = ~done & (touching > 0) & free & ~mesh.boundary
        if not ring.any():
            break
        shift[ring] = share * (ring_of @ shift)[ring] / touching[ring][:, None]
        done |= ring
        carried |= ring
    out = proposal.copy()
    if carried.any():
        out[carried] = x[carried] + shift[carried]
        out[carried] = target.project(out[carried], np.zeros(int(carried.sum()), bool),
                                      mesh.vertex_normals(x)[carried])[0]
    return out


def _relax(x, mesh: _QuadMesh, target: SurfaceTarget, movable: np.ndarray, iterations: int, tangential: bool,
           cancel=None) -> np.ndarray:
    """Project, then ``iterations`` times move the ``movable`` vertices halfway to their neighbours'
    mean (within the tangent plane when ``tangential``) and project again; folds undone."""
    snap = mesh.boundary & mesh.used if target.boundary is not None else np.zeros(len(x), bool)
    projected, normals = target.project(x, snap, mesh.vertex_normals(x))
    x = mesh.stepped(x, _moved(x, mesh.used, projected))[0]
    for _ in range(iterations):
        if cancel is not None:
            cancel.check()
        shift = RELAX_STEP * (mesh.neighbour_mean(x) - x)
        if tangential:
            inner = ~mesh.boundary
            shift[inner] -= np.einsum("nd,nd->n", shift[inner], normals[inner])[:, None] * normals[inner]
        moved = x + np.where(movable[:, None], shift, 0.0)
        projected, normals = target.project(moved, snap, mesh.vertex_normals(x))
        x = mesh.stepped(x, _moved(x, movable, projected))[0]
    return x


def _moved(x: np.ndarray, which: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``x`` with the rows in ``which`` taken from ``positions``."""
    return np.where(which[:, None], positions, x)


def _snap_to_creases(x, mesh: _QuadMesh, pv, pt, sharp_angle: float) -> np.ndarray:
    """Vertices within a third of their mean edge length of a crease line move onto it."""
    creases = crease_edges(pv, pt, sharp_angle)
    if len(creases) == 0:
        return x
    on_line = Polylines(pv[creases[:, 0]], pv[creases[:, 1]]).closest_points(x)
    near = mesh.used & (np.linalg.norm(on_line - x, axis=1) < _mean_edge_length(x, mesh) / 3)
    return mesh.stepped(x, _moved(x, near, on_line))[0]


def _mean_edge_length(x: np.ndarray, mesh: _QuadMesh) -> np.ndarray:
    """Mean length of the edges at each vertex."""
    adj = mesh.adjacency.tocoo()
    length = np.linalg.norm(x[adj.row] - x[adj.col], axis=1)
    total = np.bincount(adj.row, weights=length, minlength=len(x))
    return total / np.maximum(mesh.degree, 1)


def _pull_toward_far_points(x, mesh: _QuadMesh, target: SurfaceTarget, free: np.ndarray, limit: float,
                            cancel) -> np.ndarray:
    """Close the gaps both ways, in rounds: an input point far from the result pulls the nearest
    unpinned vertex onto it; a point of the result (quad centre or edge midpoint) far from the
    input pulls the nearest unpinned vertex onto the input point closest to it. Each vertex goes
    to the farthest point that claims it (part of the way when the whole way folds a quad), then the
    unpinned vertices relax around the pinned ones. Input points found close to the result (a
    vertex within the limit, or the surface within half of it) are not checked again."""
    pv, pt = target.vertices, target.triangles
    samples = min(PULL_SAMPLES, SAMPLES_PER_QUAD * len(mesh.quads))
    points = np.concatenate([sample_surface(pv, pt, samples, seed=7)[0], pv[np.unique(pt)]])
    tris = mesh.quads[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)
    pinned = ~mesh.used
    for _ in range(PULL_ROUNDS):
        if cancel is not None:
            cancel.check()
        # a point within ``limit`` of a vertex is within it of the result: only the others are measured
        to_vertex, _ = cKDTree(x[mesh.used]).query(points, distance_upper_bound=limit)
        unsure = np.flatnonzero(np.isinf(to_vertex))
        gap = np.zeros(len(points))
        if len(unsure):
            gap[unsure] = SurfaceQuery(x, tris, samples=len(tris), k=6, thorough=False).distance(points[unsure])
        points, gap = points[gap > 0.5 * limit], gap[gap > 0.5 * limit]
        far = gap > limit
        p = x[mesh.quads]
        spots = np.concatenate([p.mean(axis=1), 0.5 * (p + np.roll(p, 1, axis=1)).reshape(-1, 3)])
        landing, _ = target.surface.closest_points(spots)
        off = np.linalg.norm(spots - landing, axis=1)
        stray = off > limit
        anchor = np.concatenate([points[far], spots[stray]])
        goal = np.concatenate([points[far], landing[stray]])
        order = np.argsort(-np.concatenate([gap[far], off[stray]]))
        free_ids = np.flatnonzero(~pinned)
        if len(order) == 0 or len(free_ids) == 0:
            break
        _, near = cKDTree(x[free_ids]).query(anchor[order])
        vertex, first = np.unique(free_ids[near], return_index=True)  # farthest claim per vertex
        goal = goal[order[first]]
        proposal = x.copy()
        proposal[vertex] = goal
        x_new, whole = mesh.stepped(x, proposal)
        landed = vertex[whole[vertex]]
        pinned[landed] = True
        if len(landed) == 0:  # stuck: what is left would fold quads
            return x_new
        x = _relax(x_new, mesh, target, free & ~pinned, 2, tangential=False, cancel=cancel)
    return x


def quads_over_holes(vertices: np.ndarray, quads: np.ndarray, part_vertices: np.ndarray,
                     part_triangles: np.ndarray, reach: float = HOLE_REACH,
                     target: SurfaceTarget | None = None, min_hole: float = 0.0) -> np.ndarray:
    """(F,) bool: quads that cover a hole of the input (a remesher that closed it): their centre's
    closest input point is on the input's boundary, farther than ``reach`` times the quad's mean
    edge length. Dropping them reopens the hole; :func:`fit_to_surface` then snaps the new rim
    onto the input's. ``target``: the part's :class:`SurfaceTarget`, when already built. Holes
    shorter around than ``min_hole`` are left closed (a quad's rim cannot follow a hole much
    smaller than the quad: it would open a hole the size of the quad)."""
    x = np.asarray(vertices, np.float64).reshape(-1, 3)
    quads = np.asarray(quads, np.int64).reshape(-1, 4)
    if len(quads) == 0 or len(part_triangles) == 0:
        return np.zeros(len(quads), bool)
    target = target or SurfaceTarget(part_vertices, part_triangles)
    if target.boundary is None:
        return np.zeros(len(quads), bool)
    p = x[quads]
    centre = p.mean(axis=1)
    size = np.linalg.norm(p - np.roll(p, 1, axis=1), axis=2).mean(axis=1)
    closest, _ = target.surface.closest_points(centre)
    landing, segment = target.boundary.closest(closest)
    on_rim = np.linalg.norm(landing - closest, axis=1)
    gap = np.linalg.norm(centre - closest, axis=1)
    kept = target.kept_segments(min_hole)[segment]
    return (on_rim <= 1e-9 * max(bbox_diagonal(target.vertices), 1e-30)) & (gap > reach * size) & kept
