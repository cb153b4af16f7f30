"""More quads where a quad mesh is too coarse for the surface, keeping it pure-quad and conforming.

The unit of change is a set of cut edges: every cut edge gets its midpoint, and every quad with
cut edges is split by a template, which needs an even number of cut edges per quad:

- two opposite edges: two quads (one face more);
- two adjacent edges (a turn): three quads around the quad's centre (two more; the centre has
  valence 3 and the corner opposite the turn gains one: a 3-5 pair of singular vertices);
- all four: four quads around the centre (three more).

A chord (quad strip) is the sequence of quads reached by crossing opposite edges until the
boundary or back at the start; cutting all its crossed edges (:func:`split_chord`) is the
classic conforming refinement, but on a remeshed surface with singular vertices chords wind
around the whole mesh (on QuadriFlow's 2000-quad cow 4 of its 21 chords cross 194 to 2202
quads), far too many faces for a local fix. So :func:`refine_near` cuts the quads nearest some
points (across their long sides when they are elongated, else into four) and then gives every
quad left with an odd number of cut edges a cut path to another one (or to the boundary), the
path whose templates add the fewest faces (a greedy T-join in the dual graph): short paths that
may turn, so the refinement stays local. The mesh stays manifold with the same Euler
characteristic. New vertices sit at edge midpoints and quad centres: the caller fits them onto
the surface afterwards (:func:`far_points` finds where to refine).
"""
from __future__ import annotations

import heapq
import itertools

import numpy as np
from scipy.spatial import cKDTree

from backend.ops.base import CancelToken

from .surface_distance import SurfaceQuery, sample_surface

ELONGATED = 1.25  # a quad whose long sides are this much longer than its short ones is cut across them only
ADDED_FACES = np.array([0, 0, 1, 0, 3])  # by cut edges of a quad (two adjacent edges: 2, see _added_faces)


class QuadDual:
    """Which quad lies across each edge of a pure-quad mesh: half-edge ``4 * f + i`` is edge i
    (corners i and i+1) of quad f."""

    def __init__(self, quads: np.ndarray):
        n = len(quads)
        ends = np.sort(np.stack([quads, np.roll(quads, -1, axis=1)], axis=2).reshape(-1, 2), axis=1)
        _, edge_id, uses = np.unique(ends, axis=0, return_inverse=True, return_counts=True)
        edge_id = edge_id.reshape(-1)
        order = np.argsort(edge_id, kind="stable")
        start = np.concatenate([[0], np.cumsum(uses)])[edge_id]
        first, second = order[start], order[start + (uses[edge_id] > 1)]
        halves = np.arange(4 * n)
        self.across = np.where(uses[edge_id] == 2, np.where(first == halves, second, first), -1)
        self.bad_edge = uses[edge_id] > 2  # non-manifold
        self.bad_face = (quads[:, :, None] == quads[:, None, :]).sum(axis=(1, 2)) > 4  # a repeated corner
        # the same as lists: scalar look-ups in the path search are several times faster
        self.across_list, self.bad_edge_list = self.across.tolist(), self.bad_edge.tolist()
        self.bad_face_list = self.bad_face.tolist()

    def chord(self, face: int, direction: int) -> list[int] | None:
        """The half-edges the chord through ``face`` across its edges ``direction`` and
        ``direction + 2`` crosses (both sides of each shared edge); None when it meets a
        non-manifold edge or a degenerate quad."""
        if self.bad_face[face]:
            return None
        cut = []
        first = 4 * face + direction + 2
        for half in (first, 4 * face + direction):
            while True:
                if self.bad_edge[half]:
                    return None
                cut.append(half)
                other = int(self.across[half])
                if other < 0:
                    break
                cut.append(other)
                f, enter = divmod(other, 4)
                if self.bad_face[f]:
                    return None
                half = 4 * f + (enter + 2) % 4
                if half == first:  # closed on itself
                    return cut
        return cut


def split_chord(vertices: np.ndarray, quads: np.ndarray, face: int, direction: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Split the chord through quad ``face`` across its edges ``direction`` and ``direction + 2``:
    each quad it crosses becomes two (four where it crosses a quad both ways). Raises ValueError
    when the chord meets a non-manifold edge or a degenerate quad."""
    quads = np.asarray(quads, np.int64).reshape(-1, 4)
    halves = QuadDual(quads).chord(face, direction)
    if halves is None:
        raise ValueError("the chord meets a non-manifold edge or a degenerate quad")
    cut = np.zeros(4 * len(quads), bool)
    cut[halves] = True
    return split_cut_edges(vertices, quads, cut.reshape(-1, 4))


def refine_near(vertices: np.ndarray, quads: np.ndarray, points: np.ndarray, *, max_new_faces: int,
                cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split the quads nearest ``points`` (N,3), as many of those nearest the most points as
    ``max_new_faces`` allows together with the cut paths that keep the mesh conforming. Returns
    (vertices, quads); old vertices keep their indices, midpoints and centres follow."""
    vertices = np.asarray(vertices, np.float64).reshape(-1, 3)
    quads = np.asarray(quads, np.int64).reshape(-1, 4)
    points = np.asarray(points, np.float64).reshape(-1, 3)
    if len(quads) == 0 or len(points) == 0 or max_new_faces <= 0:
        return vertices.copy(), quads.copy()
    dual = QuadDual(quads)
    asked, votes = np.unique(cKDTree(vertices[quads].mean(axis=1)).query(points)[1], return_counts=True)
    asked = asked[np.argsort(-votes, kind="stable")]
    asked = asked[~dual.bad_face[asked]]
    asked = asked[~dual.bad_edge.reshape(-1, 4)[asked].any(axis=1)]
    crossing = _crossing_edges(vertices, quads)
    # the longest prefix of ``asked`` whose cut fits (bisection: the cost grows with the region)
    best, low, high = np.zeros(quads.shape, bool), 0, len(asked)
    while low < high:
        if cancel is not None:
            cancel.check()
        middle = (low + high + 1) // 2
        cut = _conforming_cut(dual, asked[:middle].tolist(), crossing)
        if cut is not None and _added_faces(cut) <= max_new_faces:
            best, low = cut, middle
        else:
            high = middle - 1
    return split_cut_edges(vertices, quads, best)


def far_points(vertices: np.ndarray, quads: np.ndarray, part_vertices: np.ndarray, part_triangles: np.ndarray,
               limit: float, *, part_surface: SurfaceQuery | None = None, samples: int = 30_000
               ) -> tuple[np.ndarray, float]:
    """Points (N,3) where the quad mesh and the part are more than ``limit`` apart (part points,
    surface samples and vertices, far from the quads; quad points far from the part), and the
    largest distance found either way (a sampled Hausdorff distance)."""
    tris = np.asarray(quads, np.int64).reshape(-1, 4)[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)
    part_surface = part_surface or SurfaceQuery(part_vertices, part_triangles, samples=0, k=6)
    on_part = np.concatenate([sample_surface(part_vertices, part_triangles, samples)[0], part_vertices])
    on_quads = np.concatenate([sample_surface(vertices, tris, samples)[0], vertices[np.unique(tris)]])
    missed = SurfaceQuery(vertices, tris, samples=len(tris), k=6).distance(on_part)
    stray = part_surface.distance(on_quads)
    points = np.concatenate([on_part[missed > limit], on_quads[stray > limit]])
    return points, float(max(missed.max(), stray.max()))


def _crossing_edges(vertices: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """(F,4) the edges to cut in each quad: its two long sides when they are ``ELONGATED`` times
    the short ones (the quad becomes two squarer ones), else all four."""
    p = vertices[quads]
    length = np.linalg.norm(np.roll(p, -1, axis=1) - p, axis=2)
    pair = length[:, :2] + length[:, 2:]  # edges 0+2, edges 1+3
    crossing = np.ones(quads.shape, bool)
    crossing[:, [1, 3]] &= ~(pair[:, 0] > ELONGATED * pair[:, 1])[:, None]
    crossing[:, [0, 2]] &= ~(pair[:, 1] > ELONGATED * pair[:, 0])[:, None]
    return crossing


def _conforming_cut(dual: QuadDual, region: list[int], crossing: np.ndarray) -> np.ndarray | None:
    """Cut edges (F,4): the ``crossing`` edges of every quad of ``region``, plus the cheapest
    paths between the quads this leaves with an odd number of cut edges (or to the boundary);
    None when a quad cannot be mended."""
    across = dual.across_list
    cut = [False] * len(across)
    inside = set(region)
    touched = set()
    for face in region:
        for local in np.flatnonzero(crossing[face]).tolist():
            half = 4 * face + local
            if dual.bad_edge_list[half]:
                return None
            cut[half] = True
            touched.add(face)
            if across[half] >= 0:
                cut[across[half]] = True
                touched.add(across[half] // 4)
    odd = {face for face in touched if sum(cut[4 * face:4 * face + 4]) % 2}
    while odd:
        source = min(odd)  # a fixed order: the pairing does not hang on set iteration
        odd.remove(source)
        path = _cheapest_path(dual, cut, source, odd, inside)
        if path is None:
            return None
        for half in path:
            cut[half] = not cut[half]
            if across[half] >= 0:
                cut[across[half]] = not cut[across[half]]
        odd.discard(across[path[-1]] // 4 if across[path[-1]] >= 0 else None)
    return np.array(cut, bool).reshape(-1, 4)


def _cheapest_path(dual: QuadDual, cut: list[bool], source: int, goals: set, inside: set) -> list[int] | None:
    """Half-edges (each leaving a quad) of the dual path from quad ``source`` to one of ``goals``
    or across the boundary whose cuts add the fewest faces (going straight through a quad adds
    one, turning two), crossing only uncut edges and passing through no quad of ``inside``;
    None if there is none."""
    across, bad_edge, bad_face = dual.across_list, dual.bad_edge_list, dual.bad_face_list

    def step(face: int, enter: int, leave: int) -> int:
        """Faces added when the path enters ``face`` through local edge ``enter`` (-1: it starts
        there) and leaves through ``leave`` (-1: it ends there)."""
        have = [e for e in range(4) if cut[4 * face + e]]
        ends = sorted(have + [e for e in (enter, leave) if e >= 0])
        if len(ends) == 4:
            return 2 if len(have) == 2 and have[1] - have[0] == 2 else 1
        return 1 if ends[1] - ends[0] == 2 else 2

    def usable(half: int) -> bool:
        if bad_edge[half] or cut[half]:
            return False
        face = across[half] // 4
        return face < 0 or face in goals or not (face in inside or bad_face[face])

    # states: ("go", half) leaves a quad through ``half``; ("end", half) arrived at a goal through
    # it; ("edge", half) left the mesh through it
    pushed = itertools.count()  # ties go first come, first served
    heap = [(step(source, -1, leave), next(pushed), ("go", 4 * source + leave), None)
            for leave in range(4) if usable(4 * source + leave)]
    heapq.heapify(heap)
    came_from: dict[tuple, tuple | None] = {}
    while heap:
        cost, _, state, previous = heapq.heappop(heap)
        if state in came_from:
            continue
        came_from[state] = previous
        kind, half = state
        other = across[half]
        if kind == "go" and other < 0:  # the boundary mends one odd quad, a goal two: count it double
            heapq.heappush(heap, (2 * cost, next(pushed), ("edge", half), previous))
            continue
        if kind == "go":
            face, enter = divmod(other, 4)
            if face in goals:
                heapq.heappush(heap, (cost + step(face, enter, -1), next(pushed), ("end", half), state))
                continue
            if face == source or sum(cut[4 * face:4 * face + 4]) not in (0, 2):
                continue
            for leave in range(4):
                if leave != enter and usable(4 * face + leave):
                    heapq.heappush(heap, (cost + step(face, enter, leave), next(pushed),
                                          ("go", 4 * face + leave), state))
            continue
        path = []
        state = came_from[state] if kind == "end" else ("go", half)
        while state is not None:
            path.append(state[1])
            state = came_from[state]
        return path[::-1]
    return None


def _added_faces(cut: np.ndarray) -> int:
    """Faces the templates add for cut edges (F,4)."""
    count = cut.sum(axis=1)
    adjacent = (count == 2) & ~(cut[:, 0] & cut[:, 2]) & ~(cut[:, 1] & cut[:, 3])
    return int(ADDED_FACES[count].sum() + adjacent.sum())


def split_cut_edges(vertices: np.ndarray, quads: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split the quads by their cut edges (F,4) (each quad has 0, 2 or 4, both sides of a shared
    edge alike; see the module docstring). Returns (vertices, quads): the old vertices, then the
    midpoints, then the centres; each quad's pieces take its place in the face order."""
    vertices = np.asarray(vertices, np.float64).reshape(-1, 3)
    quads = np.asarray(quads, np.int64).reshape(-1, 4)
    cut = np.asarray(cut, bool).reshape(-1, 4)
    count = cut.sum(axis=1)
    if np.isin(count, (1, 3)).any():
        raise ValueError("a quad has an odd number of cut edges")
    ends = np.stack([quads, np.roll(quads, -1, axis=1)], axis=2)
    edges, inverse = np.unique(np.sort(ends[cut], axis=1), axis=0, return_inverse=True)
    mid = np.full(quads.shape, -1, np.int64)
    mid[cut] = len(vertices) + inverse.reshape(-1)
    # rotate each quad so its cut edges start at edge 0: (0, 2) straight, (0, 1) a turn, all four
    pair = count == 2
    straight = pair & ((cut[:, 0] & cut[:, 2]) | (cut[:, 1] & cut[:, 3]))
    shift = np.zeros(len(quads), np.int64)
    for s in range(4):
        shift[pair & ~straight & cut[:, s] & cut[:, (s + 1) % 4]] = s
    shift[straight & cut[:, 1]] = 1
    rows = np.arange(len(quads))[:, None]
    columns = (np.arange(4)[None, :] + shift[:, None]) % 4
    q, m = quads[rows, columns], mid[rows, columns]
    turn = pair & ~straight
    four = count == 4
    centred = turn | four
    centre = np.full(len(quads), -1, np.int64)
    centre[centred] = len(vertices) + len(edges) + np.arange(centred.sum())
    c = centre
    templates = [
        (count == 0, [quads]),
        (straight, [np.stack([q[:, 0], m[:, 0], m[:, 2], q[:, 3]], 1),
                    np.stack([m[:, 0], q[:, 1], q[:, 2], m[:, 2]], 1)]),
        (turn, [np.stack([q[:, 0], m[:, 0], c, q[:, 3]], 1), np.stack([m[:, 0], q[:, 1], m[:, 1], c], 1),
                np.stack([c, m[:, 1], q[:, 2], q[:, 3]], 1)]),
        (four, [np.stack([q[:, 0], m[:, 0], c, m[:, 3]], 1), np.stack([m[:, 0], q[:, 1], m[:, 1], c], 1),
                np.stack([c, m[:, 1], q[:, 2], m[:, 2]], 1), np.stack([m[:, 3], c, m[:, 2], q[:, 3]], 1)]),
    ]
    owners, pieces = [], []
    for which, shapes in templates:
        for shape in shapes:
            owners.append(np.flatnonzero(which))
            pieces.append(shape[which])
    order = np.argsort(np.concatenate(owners), kind="stable")
    new_vertices = np.concatenate([vertices, vertices[edges].mean(axis=1), vertices[quads[centred]].mean(axis=1)])
    return new_vertices, np.concatenate(pieces)[order]
