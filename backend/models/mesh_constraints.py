"""Validity masks for artist-mesh generation: constrained decoding in the MeshAnything / BPT manner.

While the model writes strip tokens (``mesh_tokens``), ``MeshConstraints.restrict`` removes from
the grammar's mask every token that would make the mesh invalid or stray from the input:

* a vertex in a grid cell farther than ``vertex_tolerance`` from the input's surface samples (the
  block tokens with no such cell go too);
* a vertex whose new edge would be a third use of an edge, or a second use in the same direction
  (inconsistent winding), or whose points (quarters) lie off the input; a vertex whose fan
  triangle (the face's first vertex, the previous one, it) has probe points off the input;
* a vertex whose fan triangle's inner probes fall in grid cells holding the inside of a written
  face that shares no vertex with the face being written and lies parallel to its fan triangle
  (faces piled on faces, as ``mesh_validity.stacked_faces`` finds them afterwards);
* a last vertex that would close a face repeating an existing face or a face without area; an
  ``ADJ`` token across an edge already used twice;
* with ``coverage`` set, until that share of the input's samples lies near a written face: a new
  vertex away from the samples no face covers yet (the mesh grows into what it still lacks),
  and end-of-mesh;
* end-of-mesh while the mesh has open edges when the input is closed.

When nothing valid is left for a vertex, the vertex keeps the occupancy test alone, then the
grammar alone (the checks after generation still judge the result).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation
from scipy.spatial import cKDTree

from backend.geometry.mesh_validity import STACK_COS
from backend.geometry.surface_distance import closest_points_on_triangles

from .mesh_tokens import ADJ3, ADJ4, EOS, Decoder, TokenSpec, dequantize, quantize

# barycentric probes of a fan triangle: centre, corner-centre halfway points, edge midpoints
TRIANGLE_PROBES = np.array([(1 / 3, 1 / 3, 1 / 3), (2 / 3, 1 / 6, 1 / 6), (1 / 6, 2 / 3, 1 / 6),
                            (1 / 6, 1 / 6, 2 / 3), (0.5, 0, 0.5), (0, 0.5, 0.5)])
# inner points of a fan triangle tested against written faces' insides: the first four probes and a
# barycentric grid of sixths
_i, _j = np.meshgrid(np.arange(1, 6), np.arange(1, 6), indexing="ij")
_inner = (_i + _j) < 6
INNER_PROBES = np.concatenate([TRIANGLE_PROBES[:4], np.stack([_i[_inner], _j[_inner], 6 - _i[_inner] - _j[_inner]],
                                                             axis=1) / 6])


class MeshConstraints:
    """The masks for one input surface, given as samples in the model's normalised frame."""

    def __init__(self, spec: TokenSpec, surface: np.ndarray, closed: bool, vertex_tolerance: float = 1.5,
                 face_tolerance: float = 2.5, coverage: float = 0.0, coverage_samples: int = 2000):
        """Tolerances are in grid cells; ``coverage`` (0-1) is the share of input samples that must
        lie within ``face_tolerance`` of a written face before end-of-mesh is allowed."""
        self.spec = spec
        self.closed = closed
        levels = spec.levels
        cell = 2.0 / levels
        self.face_tolerance = face_tolerance * cell
        surface = np.asarray(surface, np.float64)
        # distances only for cells within reach of a sample's cell (the rest count as far)
        reach = int(np.ceil(max(vertex_tolerance, face_tolerance))) + 1
        hit = np.zeros((levels,) * 3, bool)
        hit[tuple(quantize(surface, levels).T)] = True
        around = np.argwhere(binary_dilation(hit, np.ones((3, 3, 3), bool), iterations=reach))
        flat = (around[:, 0] * levels + around[:, 1]) * levels + around[:, 2]
        self.distance = np.full(levels ** 3, np.inf)
        self.distance[flat] = cKDTree(surface).query(dequantize(around, levels))[0]
        keep = self.distance[flat] <= vertex_tolerance * cell
        near, self.cells = flat[keep], around[keep]
        self.points = dequantize(self.cells, levels)
        s, n = spec.block, spec.blocks_per_axis
        b = self.cells // s
        self.block = (b[:, 0] * n + b[:, 1]) * n + b[:, 2]
        o = self.cells % s
        self.offset = (o[:, 0] * s + o[:, 1]) * s + o[:, 2]
        self.slot = np.full(levels ** 3, -1, np.int64)
        self.slot[near] = np.arange(len(near))
        self.coverage = coverage
        pick = np.random.default_rng(0).choice(len(surface), min(coverage_samples, len(surface)), replace=False)
        self.cover_tree = cKDTree(surface[pick])
        self.covered = np.zeros(len(pick), bool)
        self.sample_slots = cKDTree(self.points).query_ball_point(self.cover_tree.data, self.face_tolerance)
        self.open_count = np.zeros(len(self.points), np.int64)
        for slots in self.sample_slots:
            self.open_count[slots] += 1
        self.existing = np.zeros(len(self.points), bool)
        self.marked_cells = 0
        self.directed: set[tuple[int, int]] = set()
        self.uses: dict[tuple[int, int], int] = {}
        self.neighbours: dict[int, set[int]] = {}
        self.face_keys: set[frozenset] = set()
        self.faces_of: dict[int, list[int]] = {}
        self.open_edges = 0
        self.seen_faces = 0
        self.owner = np.full(levels ** 3, -1, np.int64)  # per cell: the first written face whose inside it holds
        self.owner_normal = np.zeros((levels ** 3, 3))  # that face's (fan triangle's) unit normal
        self.relaxed = 0  # vertex steps that had to fall back to weaker masks (1: occupancy, 2: grammar)
        self._cache: tuple | None = None

    # -- bookkeeping -------------------------------------------------------------------------
    def _sync(self, reader: Decoder) -> None:
        """Take in the faces the decoder completed since the last call."""
        while self.seen_faces < len(reader.faces):
            f = reader.faces[self.seen_faces]
            for i in range(len(f)):
                a, c = f[i], f[(i + 1) % len(f)]
                self.directed.add((a, c))
                key = (min(a, c), max(a, c))
                self.uses[key] = self.uses.get(key, 0) + 1
                self.open_edges += 1 if self.uses[key] == 1 else -1 if self.uses[key] == 2 else 0
                self.neighbours.setdefault(a, set()).add(c)
                self.neighbours.setdefault(c, set()).add(a)
                self.faces_of.setdefault(a, []).append(self.seen_faces)
            self.face_keys.add(frozenset(f))
            corners = self._positions(reader, list(f))
            for k in range(1, len(f) - 1):
                self._claim(corners[[0, k, k + 1]])
            if self.coverage > 0:
                self._cover(corners)
            self.seen_faces += 1

    def _claim(self, triangle: np.ndarray) -> None:
        """Mark the cells holding the inside of a written fan triangle (a barycentric grid finer than
        half a cell, plus the probes) with the face and its normal."""
        normal = np.cross(triangle[1] - triangle[0], triangle[2] - triangle[0])
        length = float(np.linalg.norm(normal))
        if length <= 0:
            return
        edge = float(np.linalg.norm(triangle - np.roll(triangle, 1, axis=0), axis=1).max())
        n = int(np.clip(np.ceil(edge / (0.5 * 2.0 / self.spec.levels)), 3, 32))
        i, j = np.meshgrid(np.arange(1, n), np.arange(1, n), indexing="ij")
        inner = (i + j) < n
        weights = np.stack([i[inner], j[inner], n - i[inner] - j[inner]], axis=1) / n
        cells = np.unique(self._cell_index(np.concatenate([weights, TRIANGLE_PROBES[:4]]) @ triangle))
        cells = cells[self.owner[cells] < 0]
        self.owner[cells] = self.seen_faces
        self.owner_normal[cells] = normal / length

    def _stacked(self, reader: Decoder, pending: list[int], corners: np.ndarray, live: np.ndarray,
                 probes: np.ndarray) -> np.ndarray:
        """Per candidate (near-cell slots ``live``): its fan triangle's probes (P, K, 3) fall in a cell
        of a written face that shares no vertex with the face being written and is parallel to it."""
        cells = self._cell_index(probes)
        owner = self.owner[cells]
        hit = owner >= 0
        if not hit.any():
            return np.zeros(len(live), bool)
        normal = np.cross(corners[-1] - corners[0], self.points[live] - corners[0])
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
        hit &= np.abs(np.einsum("pkd,kd->pk", self.owner_normal[cells], normal)) >= STACK_COS
        writing = set(pending)
        for f in np.unique(owner[hit]):
            face = reader.faces[f]
            if writing & set(face):
                hit[owner == f] = False
                continue
            slots = [self.slot[self._flat(reader.cells[u])] for u in face]
            hit &= ~((owner == f) & np.isin(live, slots)[None])  # the candidate is one of its vertices
        return hit.any(0)

    def _cover(self, corners: np.ndarray) -> None:
        """Mark the coverage samples within the face tolerance of a new face (its fan triangles)."""
        centre = corners.mean(0)
        radius = float(np.linalg.norm(corners - centre, axis=1).max()) + self.face_tolerance
        near = np.asarray(self.cover_tree.query_ball_point(centre, radius), np.int64)
        near = near[~self.covered[near]]
        if not len(near):
            return
        p = self.cover_tree.data[near]
        hit = np.zeros(len(near), bool)
        for k in range(1, len(corners) - 1):
            a, b, c = (np.broadcast_to(x, p.shape) for x in (corners[0], corners[k], corners[k + 1]))
            hit |= np.linalg.norm(closest_points_on_triangles(p, a, b, c) - p, axis=1) <= self.face_tolerance
        for i in near[hit]:
            if not self.covered[i]:
                self.covered[i] = True
                self.open_count[self.sample_slots[i]] -= 1

    def _mark_existing_cells(self, reader: Decoder) -> None:
        while self.marked_cells < len(reader.cells):
            slot = self.slot[self._flat(reader.cells[self.marked_cells])]
            if slot >= 0:
                self.existing[slot] = True
            self.marked_cells += 1

    def _positions(self, reader: Decoder, vertices: list[int]) -> np.ndarray:
        return dequantize(np.asarray([reader.cells[v] for v in vertices], np.int64).reshape(-1, 3), self.spec.levels)

    def _cell_index(self, points: np.ndarray) -> np.ndarray:
        """Flat grid index of the cell holding each point (normalised coordinates, (..., 3))."""
        L = self.spec.levels
        c = np.clip(((points + 1) * (L / 2)).astype(np.int64), 0, L - 1)
        return (c[..., 0] * L + c[..., 1]) * L + c[..., 2]

    def _off(self, points: np.ndarray) -> np.ndarray:
        """True where a point lies farther than the face tolerance from the input."""
        return self.distance[self._cell_index(points)] > self.face_tolerance

    def _edge_blocked(self, a: int, b: int) -> bool:
        """A new edge a->b would repeat a direction or be a third use."""
        return (a, b) in self.directed or self.uses.get((min(a, b), max(a, b)), 0) >= 2

    def _mark_existing(self, reader: Decoder, valid: np.ndarray, vertices, test) -> None:
        for u in vertices:
            slot = self.slot[self._flat(reader.cells[u])]
            if slot >= 0 and test(u):
                valid[slot] = False

    def _flat(self, cell) -> int:
        L = self.spec.levels
        return (cell[0] * L + cell[1]) * L + cell[2]

    # -- the masks ---------------------------------------------------------------------------
    def vertex_candidates(self, reader: Decoder) -> tuple[np.ndarray, np.ndarray]:
        """(fully valid, near the input) boolean masks over the near cells for the next vertex."""
        key = (len(reader.faces), len(reader.pending), reader.need)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        near = np.ones(len(self.cells), bool)
        self._mark_existing(reader, near, reader.pending, lambda u: True)  # a face never repeats a vertex
        valid = near.copy()
        pending = list(reader.pending)
        if self.coverage > 0 and self.covered.mean() < self.coverage:
            # the mesh grows into the input it does not cover yet: a new vertex lies near an
            # uncovered sample (vertices already written stay usable)
            self._mark_existing_cells(reader)
            valid &= (self.open_count > 0) | self.existing
        # the geometric tests run on the candidates still standing only
        if pending:
            prev = pending[-1]
            p_prev = self._positions(reader, [prev])[0]
            self._mark_existing(reader, valid, self.neighbours.get(prev, ()), lambda u: self._edge_blocked(prev, u))
            live = np.flatnonzero(valid)
            t = np.array([0.25, 0.5, 0.75])[:, None, None]
            valid[live[self._off(p_prev + t * (self.points[live] - p_prev)).any(0)]] = False
        if len(pending) >= 2:  # the fan triangle (first, previous, candidate) lies on the input
            corners = self._positions(reader, pending)
            live = np.flatnonzero(valid)
            w = TRIANGLE_PROBES[:, :, None, None]
            probes = w[:, 0] * corners[0] + w[:, 1] * corners[-1] + w[:, 2] * self.points[live]
            w = INNER_PROBES[:, :, None, None]
            inner = w[:, 0] * corners[0] + w[:, 1] * corners[-1] + w[:, 2] * self.points[live]
            over = self._stacked(reader, pending, corners, live, inner)  # the inside over a written face
            valid[live[self._off(probes).any(0) | over]] = False
        if reader.need == 1 and len(pending) >= 2:
            first = pending[0]
            live = np.flatnonzero(valid)
            valid[live[_polygon_area(corners, self.points[live]) <= (0.25 * 2.0 / self.spec.levels) ** 2]] = False
            self._mark_existing(reader, valid, self.neighbours.get(first, ()), lambda u: self._edge_blocked(u, first))
            dup = set(pending)
            for f in self.faces_of.get(first, ()):
                face = reader.faces[f]
                rest = set(face) - dup
                if len(face) == len(pending) + 1 and len(rest) == 1:
                    self._mark_existing(reader, valid, rest, lambda u: True)
        self._cache = (key, valid, near)
        return valid, near

    def restrict(self, reader: Decoder, mask: np.ndarray) -> None:
        """Narrow the grammar's ``mask`` (bool over the vocabulary, changed in place) to valid tokens."""
        self._sync(reader)
        face_ok, block_ok, offset_ok = reader.allowed()
        spec = self.spec
        if face_ok:
            if reader.faces and mask[list(ADJ3) + list(ADJ4)].any():
                prev = reader.faces[-1]
                for i in range(len(prev)):
                    a, b = prev[i], prev[(i + 1) % len(prev)]
                    if self._edge_blocked(b, a):
                        mask[ADJ3[i]] = mask[ADJ4[i]] = False
            if mask[EOS] and mask.sum() > 1 and not self.may_end():
                mask[EOS] = False
            return
        valid, near = self.vertex_candidates(reader)
        for level, choice in enumerate((valid, near)):
            allowed = np.zeros_like(mask)
            if offset_ok:
                here = choice & (self.block == reader.block)
                allowed[spec.offset_base + self.offset[here]] = True
            if block_ok:
                blocks = np.unique(self.block[choice])
                if offset_ok:
                    blocks = blocks[blocks != reader.block]
                allowed[spec.block_base + blocks] = True
            allowed &= mask
            if allowed.any():
                mask[:] = allowed
                self.relaxed += level
                return
        self.relaxed += 2

    def may_end(self) -> bool:
        """End-of-mesh keeps the input's closedness and covers enough of it."""
        if self.closed and self.open_edges > 0:
            return False
        return self.coverage <= 0 or self.covered.mean() >= self.coverage


def _polygon_area(corners: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Area of the polygon ``corners`` + each candidate as its last corner (vector area)."""
    total = np.zeros((len(candidates), 3))
    for a, b in zip(corners[:-1], corners[1:]):
        total += np.cross(a, b)
    total += np.cross(np.broadcast_to(corners[-1], candidates.shape), candidates)
    total += np.cross(candidates, np.broadcast_to(corners[0], candidates.shape))
    return 0.5 * np.linalg.norm(total, axis=1)
