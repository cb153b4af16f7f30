"""Fewer singular vertices on a manifold pure-quad mesh, by greedy local connectivity edits.

A vertex is singular when it is interior with valence != 4, or on the boundary with valence not
2 or 3 (``quad_remesh.singular_count``, ``metrics.topology_stats``). The edits (Tarini et al. 2010,
"Practical quad mesh simplification"; Bommes et al. 2013, "Quad-mesh generation and processing"):

- edge rotation: the two quads on an interior edge form a hexagon, split again along one of its
  two other diagonals (the old edge's ends lose one valence each, the new one's ends gain one);
- diagonal collapse: a quad merges two opposite interior corners at their midpoint (one face
  fewer; merged valence = sum - 2, the other two corners lose one each);
- doublet removal: an interior vertex of valence 2 goes and its two quads become one.

An edit is kept only when it lowers the irregularity sum(|valence - regular|) without adding a
singular vertex, or removes a singular vertex without raising the irregularity, so neither ever
rises. Every edit keeps the mesh manifold, pure-quad and of the same Euler characteristic. After
an edit its interior vertices are relaxed (tangential Laplacian) and it is undone if any nearby
quad then has a corner flatter, sharper or more folded than the region had before (or than a
floor, when the region was good). Boundary and protected vertices never move.
"""
from __future__ import annotations

import numpy as np

from backend.ops.base import CancelToken

from .polymesh import unique_rows

MIN_CORNER_SINE = 0.15  # corners below this signed sine (about 9 deg or 171 deg) count as bad
RELAX_STEPS = 3


def reduce_singularities(vertices: np.ndarray, quads: np.ndarray, *, max_face_change: float = 0.02,
                         protect: np.ndarray | None = None, cancel: CancelToken | None = None,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Greedy edge rotations, diagonal collapses and doublet removals that lower the mesh's
    irregularity; at most ``max_face_change`` of the faces are removed. ``protect`` (bool per
    vertex) marks vertices that must not move or merge. Returns compacted (vertices, quads)."""
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    if len(quads) == 0:
        return np.asarray(vertices).copy(), quads.copy()
    mesh = _QuadMesh(vertices, quads, protect)
    mesh.simplify(int(max_face_change * len(quads)), cancel)
    return mesh.result(np.asarray(vertices).dtype)


def _energy(valence: int, boundary: bool) -> int:
    """Distance of a valence from regular: 4 inside, 2 or 3 on the boundary."""
    if boundary:
        return 2 - valence if valence < 2 else max(valence - 3, 0)
    return abs(valence - 4)


class _QuadMesh:
    """Editable quad connectivity (faces as lists, vertex-to-face sets) with an undo log."""

    def __init__(self, vertices: np.ndarray, quads: np.ndarray, protect: np.ndarray | None):
        self.pos = np.array(vertices, dtype=np.float64)
        n = len(self.pos)
        self.faces: list[list[int] | None] = quads.tolist()
        self.vf: list[set[int]] = [set() for _ in range(n)]
        for f, quad in enumerate(self.faces):
            for v in quad:
                self.vf[v].add(f)
        edges, counts = unique_rows(np.sort(quads[:, [0, 1, 1, 2, 2, 3, 3, 0]].reshape(-1, 2), axis=1),
                                    return_counts=True)
        self.valence: list[int] = np.bincount(edges.reshape(-1), minlength=n).tolist()
        boundary = np.zeros(n, bool)
        boundary[edges[counts == 1].reshape(-1)] = True
        self.boundary: list[bool] = boundary.tolist()
        fixed = boundary.copy() if protect is None else boundary | np.asarray(protect, bool)
        self.fixed: list[bool] = fixed.tolist()
        # leave anything that is not plainly manifold alone: vertices on non-manifold edges, in
        # faces that repeat a vertex, or with more than one boundary loop through them
        frozen = np.zeros(n, bool)
        frozen[edges[counts > 2].reshape(-1)] = True
        repeated = (np.sort(quads, axis=1)[:, 1:] == np.sort(quads, axis=1)[:, :-1]).any(axis=1)
        frozen[quads[repeated].reshape(-1)] = True
        frozen |= np.bincount(edges[counts == 1].reshape(-1), minlength=n) > 2
        self.frozen: list[bool] = frozen.tolist()
        self.alive = [bool(s) for s in self.vf]
        self.log: list[tuple] = []

    # --- queries -------------------------------------------------------------------------

    def neighbors(self, v: int) -> set[int]:
        out = set()
        for f in self.vf[v]:
            quad = self.faces[f]
            i = quad.index(v)
            out.add(quad[i - 1])
            out.add(quad[(i + 1) % 4])
        return out

    def ring(self, v: int) -> set[int]:
        """Every vertex sharing a face with ``v``."""
        out = set()
        for f in self.vf[v]:
            out.update(self.faces[f])
        out.discard(v)
        return out

    def oriented_face(self, a: int, b: int) -> int | None:
        """The face that walks from ``a`` to ``b``."""
        for f in self.vf[a]:
            quad = self.faces[f]
            if quad[(quad.index(a) + 1) % 4] == b:
                return f
        return None

    def energy(self, v: int) -> int:
        return _energy(self.valence[v], self.boundary[v])

    def singular(self, v: int) -> bool:
        return self.alive[v] and self.energy(v) > 0

    # --- logged edits --------------------------------------------------------------------

    def set_face(self, f: int, quad: list[int] | None) -> None:
        old = self.faces[f]
        self.log.append(("face", f, old))
        if old is not None:
            for v in old:
                self.vf[v].discard(f)
        self.faces[f] = quad
        if quad is not None:
            for v in quad:
                self.vf[v].add(f)

    def set_valence(self, v: int, value: int) -> None:
        self.log.append(("valence", v, self.valence[v]))
        self.valence[v] = value

    def move(self, v: int, p: np.ndarray) -> None:
        self.log.append(("pos", v, self.pos[v].copy()))
        self.pos[v] = p

    def kill(self, v: int) -> None:
        self.log.append(("alive", v, True))
        self.alive[v] = False

    def undo(self, mark: int) -> None:
        while len(self.log) > mark:
            kind, key, old = self.log.pop()
            if kind == "face":
                current = self.faces[key]
                if current is not None:
                    for v in current:
                        self.vf[v].discard(key)
                self.faces[key] = old
                if old is not None:
                    for v in old:
                        self.vf[v].add(key)
            elif kind == "valence":
                self.valence[key] = old
            elif kind == "pos":
                self.pos[key] = old
            else:
                self.alive[key] = old

    # --- candidate edits: (vertices whose valence changes -> new valence, removed vertices) ---

    def rotations(self, v: int):
        """Edge rotations of the edges of the faces around ``v``: (kind, args, changes, removed)."""
        seen = set()
        for f in sorted(self.vf[v]):
            quad = self.faces[f]
            for i in range(4):
                a, b = quad[i], quad[(i + 1) % 4]
                if (b, a) in seen or (a, b) in seen:
                    continue
                seen.add((a, b))
                hexagon = self.hexagon(a, b)
                if hexagon is None:
                    continue
                for option in (1, 2):
                    e0, e1 = hexagon[option], hexagon[option + 3]
                    if self.frozen[e0] or self.frozen[e1]:
                        continue
                    yield ("rotate", (a, b, option),
                           {a: self.valence[a] - 1, b: self.valence[b] - 1,
                            e0: self.valence[e0] + 1, e1: self.valence[e1] + 1}, ())

    def hexagon(self, a: int, b: int) -> list[int] | None:
        """[a, y1, y2, b, x1, x2]: the two faces on edge a-b, when it is rotatable."""
        if self.frozen[a] or self.frozen[b] or (self.fixed[a] and self.fixed[b]):
            return None  # a boundary or feature edge, or one on a non-manifold spot
        f1, f2 = self.oriented_face(a, b), self.oriented_face(b, a)
        if f1 is None or f2 is None:
            return None
        q1, q2 = self.faces[f1], self.faces[f2]
        i, j = q1.index(a), q2.index(b)
        hexagon = [a, q2[(j + 2) % 4], q2[(j + 3) % 4], b, q1[(i + 2) % 4], q1[(i + 3) % 4]]
        return hexagon if len(set(hexagon)) == 6 else None

    def collapses(self, v: int):
        """Diagonal collapses of the faces around ``v``."""
        for f in sorted(self.vf[v]):
            quad = self.faces[f]
            for k in (0, 1):
                u, c1, w, c2 = quad[k], quad[k + 1], quad[k + 2], quad[(k + 3) % 4]
                if any(self.fixed[x] or self.frozen[x] for x in (u, w)) or self.frozen[c1] or self.frozen[c2]:
                    continue
                if self.ring(u) & self.ring(w) != {c1, c2}:
                    continue  # the merge would pinch the surface or glue two faces
                yield ("collapse", (f, k), {u: self.valence[u] + self.valence[w] - 2,
                                            c1: self.valence[c1] - 1, c2: self.valence[c2] - 1}, (w,))

    def doublets(self, v: int):
        if self.valence[v] != 2 or self.boundary[v] or self.fixed[v] or self.frozen[v] or len(self.vf[v]) != 2:
            return
        f1, f2 = sorted(self.vf[v])
        q1, q2 = self.faces[f1], self.faces[f2]
        i, j = q1.index(v), q2.index(v)
        a, b, c = q1[(i + 1) % 4], q1[(i + 2) % 4], q1[(i + 3) % 4]
        if q2[(j + 1) % 4] != c or q2[(j + 3) % 4] != a:
            return
        d = q2[(j + 2) % 4]
        if d in (a, b, c) or self.frozen[a] or self.frozen[c]:
            return
        yield ("doublet", (v, f1, f2, [a, b, c, d]), {a: self.valence[a] - 1, c: self.valence[c] - 1}, (v,))

    def gain(self, changes: dict[int, int], removed) -> tuple[int, int]:
        """(change of irregularity, change of singular count) if the edit were applied."""
        d_energy = d_count = 0
        for x, value in changes.items():
            before, after = self.energy(x), _energy(value, self.boundary[x])
            d_energy += after - before
            d_count += (after > 0) - (before > 0)
        for x in removed:
            d_energy -= self.energy(x)
            d_count -= self.energy(x) > 0
        return d_energy, d_count

    # --- applying ------------------------------------------------------------------------

    def apply(self, kind: str, args: tuple, changes: dict[int, int]) -> list[int]:
        """Edit the connectivity; returns the vertices to relax."""
        for x, value in changes.items():
            self.set_valence(x, value)
        if kind == "rotate":
            a, b, option = args
            hexagon = self.hexagon(a, b)
            f1, f2 = self.oriented_face(a, b), self.oriented_face(b, a)
            rolled = hexagon[option:] + hexagon[:option]
            self.set_face(f1, rolled[0:4])
            self.set_face(f2, rolled[3:6] + rolled[0:1])
            return hexagon
        if kind == "collapse":
            f, k = args
            quad = self.faces[f]
            u, c1, w, c2 = quad[k], quad[k + 1], quad[k + 2], quad[(k + 3) % 4]
            self.set_face(f, None)
            for g in sorted(self.vf[w]):
                self.set_face(g, [u if x == w else x for x in self.faces[g]])
            self.move(u, 0.5 * (self.pos[u] + self.pos[w]))
            self.kill(w)
            return [u, c1, c2]
        v, f1, f2, merged = args
        self.set_face(f1, merged)
        self.set_face(f2, None)
        self.kill(v)
        return list(merged)

    def try_edit(self, kind: str, args: tuple, changes: dict[int, int], removed) -> bool:
        """Apply an edit, relax it, and keep it only if no nearby quad got worse than allowed."""
        touched = set(changes) | set(removed)
        if kind == "rotate":
            touched.update(self.hexagon(*args[:2]))
        elif kind == "collapse":
            touched.update(self.faces[args[0]])
        region = set().union(*(self.vf[x] for x in touched))
        normals = {x: self.vertex_normal(x) for x in set().union(*(self.faces[f] for f in region))}
        before = self.quality(region, normals)
        mark = len(self.log)
        relax = self.apply(kind, args, changes)
        if kind == "collapse":
            u = relax[0]
            normals[u] = normals[u] + normals[removed[0]]
        self.relax([x for x in relax if not self.fixed[x] and self.alive[x]])
        after_region = set().union(*(self.vf[x] for x in touched if self.alive[x]))
        if self.quality(after_region, normals) < min(before, MIN_CORNER_SINE):
            self.undo(mark)
            return False
        return True

    def vertex_normal(self, v: int) -> np.ndarray:
        n = np.zeros(3)
        for f in self.vf[v]:
            p = self.pos[self.faces[f]]
            n += np.cross(p[2] - p[0], p[3] - p[1])
        return n / max(np.linalg.norm(n), 1e-300)

    def quality(self, faces, normals: dict[int, np.ndarray]) -> float:
        """Smallest signed corner sine of ``faces`` against their corners' reference normals."""
        faces = [self.faces[f] for f in faces if self.faces[f] is not None]
        if not faces:
            return 1.0
        idx = np.array(faces)
        p = self.pos[idx]
        ref = np.array([[normals.get(x, 0.0) for x in quad] for quad in faces], dtype=np.float64)
        ref = ref.sum(axis=1)
        ref /= np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-300)
        nxt = np.roll(p, -1, axis=1) - p
        prv = np.roll(p, 1, axis=1) - p
        sine = np.einsum("fcd,fd->fc", np.cross(nxt, prv), ref)
        sine /= np.maximum(np.linalg.norm(nxt, axis=2) * np.linalg.norm(prv, axis=2), 1e-300)
        return float(sine.min())

    def relax(self, verts: list[int]) -> None:
        """A few Gauss-Seidel steps of tangential Laplacian smoothing on ``verts``."""
        for _ in range(RELAX_STEPS):
            for v in verts:
                ring = list(self.neighbors(v))
                step = self.pos[ring].mean(axis=0) - self.pos[v]
                n = self.vertex_normal(v)
                self.move(v, self.pos[v] + step - n * (step @ n))

    # --- driver ---------------------------------------------------------------------------

    def simplify(self, face_budget: int, cancel: CancelToken | None) -> None:
        """Greedy passes over the singular vertices until no edit helps."""
        work = [v for v in range(len(self.alive)) if self.singular(v) and not self.frozen[v]]
        removed_faces = 0
        while work:
            following: set[int] = set()
            for v in work:
                if cancel is not None:
                    cancel.check()
                if not self.singular(v):
                    continue
                options = list(self.rotations(v)) + list(self.doublets(v))
                if removed_faces < face_budget:
                    options += list(self.collapses(v))
                ranked = []
                for kind, args, changes, removed in options:
                    d_energy, d_count = self.gain(changes, removed)
                    if d_energy <= 0 and d_count <= 0 and d_energy + d_count < 0:
                        ranked.append((d_energy + d_count, d_energy, kind, args, changes, removed))
                ranked.sort(key=lambda r: r[:3] + (repr(r[3]),))
                for *_, kind, args, changes, removed in ranked:
                    if self.try_edit(kind, args, changes, removed):
                        removed_faces += kind != "rotate"
                        for x in changes:
                            following.add(x)
                            following.update(self.neighbors(x))
                        self.log.clear()
                        break
            work = sorted(x for x in following if self.singular(x) and not self.frozen[x])

    def result(self, dtype) -> tuple[np.ndarray, np.ndarray]:
        quads = np.array([q for q in self.faces if q is not None], dtype=np.int64).reshape(-1, 4)
        used = np.zeros(len(self.pos), bool)
        used[quads.reshape(-1)] = True
        remap = np.cumsum(used) - 1
        return self.pos[used].astype(dtype), remap[quads]
