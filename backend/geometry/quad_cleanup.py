"""Fewer singular vertices on a manifold pure-quad mesh, by local connectivity edits.

A vertex is singular when it is interior with valence != 4, or on the boundary with valence not
2 or 3 (``quad_remesh.singular_count``, ``metrics.topology_stats``). The edits (Tarini et al. 2010,
"Practical quad mesh simplification"; Bommes et al. 2013, "Quad-mesh generation and processing"):

- edge rotation: the two quads on an interior edge form a hexagon, split again along one of its
  two other diagonals (the old edge's ends lose one valence each, the new one's ends gain one);
- diagonal collapse: a quad merges two opposite interior corners at their midpoint (one face
  fewer; merged valence = sum - 2, the other two corners lose one each);
- doublet removal: an interior vertex of valence 2 goes and its two quads become one.

From each singular vertex a short depth-first search looks for a sequence of up to
``SEARCH_DEPTH`` edits, each mending a vertex the previous one made worse and none raising the
total irregularity sum(|valence - regular|), that ends lowering it without adding singular
vertices (or removing singular vertices without raising it). Such sequences carry 3-5 pairs
("dipoles") until they meet and cancel, which single edits cannot. So neither the irregularity
nor the singular count ever rises; every edit keeps the mesh manifold, pure-quad and of the
same Euler characteristic, and no valence leaves [3, 6] (boundary [2, 5]). Vertices on
non-manifold edges or in degenerate quads are left alone.

Geometry: after each edit its vertices are relaxed (tangential Laplacian, each vertex kept
within ``MAX_SHIFT`` edge lengths of where it started) and the sequence is undone if a nearby
quad then has a corner flatter, sharper or more folded than the region had before (or than a
floor, when the region was good). Vertices on tips and creases are never merged away. Boundary
and protected vertices never move nor merge, and an edge between two of them is never rotated
(protect the vertices of sharp edges to keep those edges). Positions stay roughly on the
surface; the caller reprojects them onto the input.
"""
from __future__ import annotations

import numpy as np

from backend.runtime import CancelToken

from .polymesh import unique_rows

MIN_CORNER_SINE = 0.15  # corners below this signed sine (about 9 deg or 171 deg) count as bad
RELAX_STEPS = 3
MAX_MERGE_BENDING = 0.3  # a vertex bent more (see _bending) is not merged away: it may be a tip
MAX_SHIFT = 0.35  # farthest a relaxed vertex gets from where it started, x its mean edge length
SEARCH_DEPTH = 3  # longest sequence of edits tried at once (moves that bring singularities together)


def reduce_singularities(vertices: np.ndarray, quads: np.ndarray, *, max_face_change: float = 0.02,
                         protect: np.ndarray | None = None, cancel: CancelToken | None = None,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Edge rotations, diagonal collapses and doublet removals that lower the mesh's singular
    vertices; at most ``max_face_change`` of the faces are removed. ``protect`` (bool per
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


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product over the last axis (np.cross costs more on the small arrays here)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)


def _bending(pos: np.ndarray, quads: np.ndarray, edges: np.ndarray, mean_length: np.ndarray) -> np.ndarray:
    """How far the centre of each vertex's ring lies off its tangent plane, in mean edge lengths
    (0 on a flat patch, large on tips and creases)."""
    n = len(pos)
    degree = np.maximum(np.bincount(edges.reshape(-1), minlength=n), 1)
    ends = pos[edges]
    centre = np.stack([np.bincount(edges[:, 0], ends[:, 1, k], n) + np.bincount(edges[:, 1], ends[:, 0, k], n)
                       for k in range(3)], axis=1) / degree[:, None]
    p = pos[quads]
    cross = _cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])
    normal = np.stack([np.bincount(quads.reshape(-1), np.repeat(cross[:, k], 4), n) for k in range(3)], axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-300)
    return np.abs(np.einsum("ij,ij->i", centre - pos, normal)) / np.maximum(mean_length, 1e-300)


class _QuadMesh:
    """Editable quad connectivity (faces as lists, vertex-to-face sets) with an undo log."""

    def __init__(self, vertices: np.ndarray, quads: np.ndarray, protect: np.ndarray | None):
        self.pos = np.array(vertices, dtype=np.float64)
        self.origin = self.pos.copy()  # relaxing keeps every vertex near where it started
        n = len(self.pos)
        self.faces: list[list[int] | None] = quads.tolist()
        self.vf: list[set[int]] = [set() for _ in range(n)]
        self.walk: dict[tuple[int, int], int] = {}  # directed edge -> the face that walks it
        for f, quad in enumerate(self.faces):
            for i, v in enumerate(quad):
                self.vf[v].add(f)
                self.walk[(v, quad[(i + 1) % 4])] = f
        self.alive = [bool(s) for s in self.vf]
        edges, counts = unique_rows(np.sort(quads[:, [0, 1, 1, 2, 2, 3, 3, 0]].reshape(-1, 2), axis=1),
                                    return_counts=True)
        valence = np.bincount(edges.reshape(-1), minlength=n)
        self.valence: list[int] = valence.tolist()
        boundary = np.zeros(n, bool)
        boundary[edges[counts == 1].reshape(-1)] = True
        self.boundary: list[bool] = boundary.tolist()
        lengths = np.linalg.norm(self.pos[edges[:, 0]] - self.pos[edges[:, 1]], axis=1)
        mean_length = np.bincount(edges.reshape(-1), np.repeat(lengths, 2), n) / np.maximum(valence, 1)
        self.reach: list[float] = (MAX_SHIFT * mean_length).tolist()
        # merging a vertex on a tip or crease away (collapse, doublet removal) would cut it off
        self.mergeable: list[bool] = (_bending(self.pos, quads, edges, mean_length) <= MAX_MERGE_BENDING).tolist()
        fixed = boundary if protect is None else boundary | np.asarray(protect, bool)
        self.fixed: list[bool] = fixed.tolist()  # never moved nor merged
        # leave anything that is not plainly manifold alone: vertices on non-manifold edges, in
        # faces that repeat a vertex, or with more than one boundary loop through them
        frozen = np.zeros(n, bool)
        frozen[edges[counts > 2].reshape(-1)] = True
        repeated = (np.sort(quads, axis=1)[:, 1:] == np.sort(quads, axis=1)[:, :-1]).any(axis=1)
        frozen[quads[repeated].reshape(-1)] = True
        frozen |= np.bincount(edges[counts == 1].reshape(-1), minlength=n) > 2
        self.frozen: list[bool] = frozen.tolist()
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
        return self.walk.get((a, b))

    def energy(self, v: int) -> int:
        return _energy(self.valence[v], self.boundary[v])

    def singular(self, v: int) -> bool:
        return self.alive[v] and self.energy(v) > 0

    # --- logged edits --------------------------------------------------------------------

    def set_face(self, f: int, quad: list[int] | None) -> None:
        self.log.append(("face", f, self.faces[f]))
        self.place(f, quad)

    def place(self, f: int, quad: list[int] | None) -> None:
        """Put ``quad`` (or nothing) in slot ``f``, keeping the vertex-face sets and the
        directed-edge index in step."""
        old = self.faces[f]
        if old is not None:
            for i, v in enumerate(old):
                self.vf[v].discard(f)
                if self.walk.get((v, old[(i + 1) % 4])) == f:
                    del self.walk[(v, old[(i + 1) % 4])]
        self.faces[f] = quad
        if quad is not None:
            for i, v in enumerate(quad):
                self.vf[v].add(f)
                self.walk[(v, quad[(i + 1) % 4])] = f

    def set_valence(self, v: int, value: int) -> None:
        self.log.append(("valence", v, self.valence[v]))
        self.valence[v] = value

    def move(self, v: int, p: np.ndarray) -> None:
        self.log.append(("pos", v, self.pos[v].copy()))
        self.pos[v] = p

    def anchor(self, v: int, p: np.ndarray) -> None:
        self.log.append(("origin", v, self.origin[v].copy()))
        self.origin[v] = p

    def kill(self, v: int) -> None:
        self.log.append(("alive", v, True))
        self.alive[v] = False

    def undo(self, mark: int) -> None:
        while len(self.log) > mark:
            kind, key, old = self.log.pop()
            if kind == "face":
                self.place(key, old)
            elif kind == "valence":
                self.valence[key] = old
            elif kind == "pos":
                self.pos[key] = old
            elif kind == "origin":
                self.origin[key] = old
            elif kind == "mergeable":
                self.mergeable[key] = old
            else:
                self.alive[key] = old

    # --- edits: (kind, args); effect() says what an edit would do to the valences now ---------

    def edits(self, v: int, removals: bool):
        """Edits that can lower ``v``'s irregularity: rotations of the edges at ``v`` (it loses
        one valence) or of the edges opposite it in its faces (it gains one), collapses of its
        faces' diagonals and its doublet removal (when ``removals``)."""
        lose = self.valence[v] > (3 if self.boundary[v] else 4)
        for f in sorted(self.vf[v]):
            quad = self.faces[f]
            i = quad.index(v)
            if lose:
                yield "rotate", (v, quad[(i + 1) % 4], 1)
                yield "rotate", (v, quad[(i + 1) % 4], 2)
            else:
                yield "rotate", (quad[(i + 1) % 4], quad[(i + 2) % 4], 2)
                yield "rotate", (quad[(i + 2) % 4], quad[(i + 3) % 4], 1)
            if removals:
                yield "collapse", (f, 0)
                yield "collapse", (f, 1)
        if removals and self.valence[v] == 2:
            yield "doublet", (v,)

    def effect(self, kind: str, args: tuple, checked: bool = True) -> tuple[dict[int, int], tuple] | None:
        """({vertex: new valence}, removed vertices) of an edit, or None where it is not allowed;
        ``checked=False`` skips the costlier checks that the edit keeps the surface manifold.
        No edit takes a valence out of [3, 6] (boundary [2, 5]) or further out: a valence-2
        vertex or a star of 7 would buy a lower count with a badly shaped patch."""
        effect = self.valence_changes(kind, args, checked)
        if effect is None:
            return None
        for x, value in effect[0].items():
            low, high = (2, 5) if self.boundary[x] else (3, 6)
            if not low <= value <= high and abs(value - (low + high) / 2) >= abs(self.valence[x] - (low + high) / 2):
                return None
        return effect

    def valence_changes(self, kind: str, args: tuple, checked: bool) -> tuple[dict[int, int], tuple] | None:
        if kind == "rotate":
            a, b, option = args
            hexagon = self.hexagon(a, b)
            if hexagon is None:
                return None
            e0, e1 = hexagon[option], hexagon[option + 3]
            if self.frozen[e0] or self.frozen[e1] or (checked and e1 in self.neighbors(e0)):
                return None  # an edge e0-e1 already elsewhere would be doubled
            return {a: self.valence[a] - 1, b: self.valence[b] - 1,
                    e0: self.valence[e0] + 1, e1: self.valence[e1] + 1}, ()
        if kind == "collapse":
            corners = self.diagonal(*args, checked)
            if corners is None:
                return None
            u, c1, w, c2 = corners
            return {u: self.valence[u] + self.valence[w] - 2,
                    c1: self.valence[c1] - 1, c2: self.valence[c2] - 1}, (w,)
        faces = self.doublet(args[0])
        if faces is None:
            return None
        a, _, c, _ = faces[2]
        return {a: self.valence[a] - 1, c: self.valence[c] - 1}, (args[0],)

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

    def diagonal(self, f: int, k: int, checked: bool = True) -> list[int] | None:
        """Face ``f`` as [u, c1, w, c2] with u-w its k-th diagonal, when u and w may merge."""
        quad = self.faces[f]
        if quad is None:
            return None
        u, c1, w, c2 = quad[k], quad[k + 1], quad[k + 2], quad[(k + 3) % 4]
        if not (self.mergeable[u] and self.mergeable[w]) or self.fixed[u] or self.fixed[w] or any(
                self.frozen[x] for x in quad):
            return None
        if checked and self.ring(u) & self.ring(w) != {c1, c2}:
            return None  # the merge would pinch the surface or glue two faces together
        return [u, c1, w, c2]

    def doublet(self, v: int) -> tuple[int, int, list[int]] | None:
        """(face kept, face removed, merged quad) for an interior valence-2 vertex ``v``."""
        if self.valence[v] != 2 or self.fixed[v] or not self.mergeable[v] or self.frozen[v] or len(self.vf[v]) != 2:
            return None
        f1, f2 = sorted(self.vf[v])
        q1, q2 = self.faces[f1], self.faces[f2]
        i, j = q1.index(v), q2.index(v)
        a, b, c = q1[(i + 1) % 4], q1[(i + 2) % 4], q1[(i + 3) % 4]
        d = q2[(j + 2) % 4]
        if q2[(j + 1) % 4] != c or q2[(j + 3) % 4] != a or d in (a, b, c) or self.frozen[a] or self.frozen[c]:
            return None
        return f1, f2, [a, b, c, d]

    def gain(self, changes: dict[int, int], removed) -> tuple[int, int]:
        """(change of irregularity, change of singular count) if the edit were applied."""
        d_energy = d_count = 0
        valence, boundary = self.valence, self.boundary
        for x, value in changes.items():
            if boundary[x]:
                before, after = _energy(valence[x], True), _energy(value, True)
            else:
                before, after = abs(valence[x] - 4), abs(value - 4)
            d_energy += after - before
            d_count += (after > 0) - (before > 0)
        for x in removed:
            before = self.energy(x)
            d_energy -= before
            d_count -= before > 0
        return d_energy, d_count

    def apply(self, kind: str, args: tuple, changes: dict[int, int]) -> list[int]:
        """Edit the connectivity (logged); returns the vertices to relax."""
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
            u, c1, w, c2 = self.diagonal(*args)
            self.set_face(args[0], None)
            for g in sorted(self.vf[w]):
                self.set_face(g, [u if x == w else x for x in self.faces[g]])
            self.move(u, 0.5 * (self.pos[u] + self.pos[w]))
            self.anchor(u, 0.5 * (self.origin[u] + self.origin[w]))
            self.log.append(("mergeable", u, True))
            self.mergeable[u] = False  # merge each spot once: a merged vertex already spans two
            self.kill(w)
            return [u, c1, c2]
        f1, f2, merged = self.doublet(args[0])
        self.set_face(f1, merged)
        self.set_face(f2, None)
        self.kill(args[0])
        return merged

    # --- finding sequences of edits that lower the irregularity -----------------------------

    def search(self, seeds, depth: int, removals: int, total: tuple[int, int], path: list, found: list) -> None:
        """Depth-first over edits touching ``seeds``: every sequence (up to ``depth`` long, each
        prefix not raising the irregularity) that ends lowering it goes into ``found``."""
        tried = set()
        for v in seeds:
            for kind, args in self.edits(v, removals > 0):
                if (kind, args) in tried:
                    continue
                tried.add((kind, args))
                effect = self.effect(kind, args, checked=False)
                if effect is None:
                    continue
                d_energy, d_count = self.gain(*effect)
                energy, count = total[0] + d_energy, total[1] + d_count
                better = energy <= 0 and count <= 0 and energy + count < 0
                if not (better or (depth > 1 and energy <= 0)) or self.effect(kind, args) is None:
                    continue
                step = path + [(kind, args)]
                if better:
                    found.append((energy + count, len(step), repr(step), step))
                else:
                    before = {x: self.energy(x) for x in effect[0]}
                    mark = len(self.log)
                    self.apply(kind, args, effect[0])
                    # the next edit must mend what this one broke
                    moved = [x for x in effect[0] if self.alive[x] and self.energy(x) > before[x]]
                    self.search(moved, depth - 1, removals - (kind != "rotate"), (energy, count), step, found)
                    self.undo(mark)

    def try_sequence(self, steps: list, dead: set[tuple]) -> set[int] | None:
        """Apply edits one by one, relaxing each; undo them all (None) if one is not allowed or
        folds a quad. ``dead`` holds the prefixes known to fail from this state; a failing
        prefix joins it. Returns the vertices whose valence changed."""
        mark = len(self.log)
        changed: set[int] = set()
        for n, (kind, args) in enumerate(steps):
            prefix = tuple(steps[:n + 1])
            effect = None if prefix in dead else self.effect(kind, args)
            if effect is None or not self.try_edit(kind, args, *effect):
                dead.add(prefix)
                self.undo(mark)
                return None
            changed.update(effect[0])
        return changed

    def try_edit(self, kind: str, args: tuple, changes: dict[int, int], removed) -> bool:
        """Apply an edit, relax it, and keep it only if no nearby quad got worse than allowed."""
        touched = set(changes) | set(removed)
        if kind == "rotate":
            touched.update(self.hexagon(*args[:2]))
        elif kind == "collapse":
            touched.update(self.faces[args[0]])
        region = set().union(*(self.vf[x] for x in touched))
        normals = self.vertex_normals(set().union(*(self.faces[f] for f in region)))
        before = self.quality(region, normals)
        mark = len(self.log)
        relax = self.apply(kind, args, changes)
        if kind == "collapse":
            merged = normals[relax[0]] + normals[removed[0]]
            normals[relax[0]] = merged / max(float(np.linalg.norm(merged)), 1e-300)
        self.relax([x for x in relax if not self.fixed[x] and self.alive[x]], normals)
        after = set().union(*(self.vf[x] for x in touched if self.alive[x]))
        if self.quality(after, normals) < min(before, MIN_CORNER_SINE):
            self.undo(mark)
            return False
        return True

    def vertex_normals(self, verts) -> dict[int, np.ndarray]:
        """Unit normals of ``verts``: the sum of their quads' diagonal cross products."""
        verts = list(verts)
        owner, faces = [], []
        for i, v in enumerate(verts):
            for f in self.vf[v]:
                owner.append(i)
                faces.append(self.faces[f])
        p = self.pos[np.array(faces)]
        cross = _cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])
        sums = np.stack([np.bincount(owner, cross[:, k], len(verts)) for k in range(3)], axis=1)
        sums /= np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-300)
        return dict(zip(verts, sums))

    def quality(self, faces, normals: dict[int, np.ndarray]) -> float:
        """Smallest signed corner sine of ``faces`` against their corners' summed reference normals."""
        quads = [self.faces[f] for f in faces if self.faces[f] is not None]
        if not quads:
            return 1.0
        p = self.pos[np.array(quads)]
        ref = np.array([normals[x] for quad in quads for x in quad]).reshape(-1, 4, 3).sum(axis=1)
        ref /= np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-300)
        nxt = np.roll(p, -1, axis=1) - p
        prv = np.roll(p, 1, axis=1) - p
        sine = np.einsum("fcd,fd->fc", _cross(nxt, prv), ref)
        sine /= np.maximum(np.linalg.norm(nxt, axis=2) * np.linalg.norm(prv, axis=2), 1e-300)
        return float(sine.min())

    def relax(self, verts: list[int], normals: dict[int, np.ndarray]) -> None:
        """A few Jacobi steps of Laplacian smoothing on ``verts``, in their tangent planes; none
        ends farther than its reach (``MAX_SHIFT`` of its first mean edge length) from its origin."""
        if not verts:
            return
        owner, ring = [], []
        for i, v in enumerate(verts):
            for x in self.neighbors(v):
                owner.append(i)
                ring.append(x)
        count = np.bincount(owner, minlength=len(verts))[:, None]
        normal = np.array([normals[v] for v in verts])
        origin = self.origin[verts]
        reach = np.array([self.reach[v] for v in verts])[:, None]
        for v in verts:
            self.log.append(("pos", v, self.pos[v].copy()))
        for _ in range(RELAX_STEPS):
            p = self.pos[ring]
            centre = np.stack([np.bincount(owner, p[:, k], len(verts)) for k in range(3)], axis=1) / count
            step = centre - self.pos[verts]
            shift = self.pos[verts] + step - normal * np.einsum("ij,ij->i", step, normal)[:, None] - origin
            length = np.linalg.norm(shift, axis=1, keepdims=True)
            self.pos[verts] = origin + shift * np.minimum(1.0, reach / np.maximum(length, 1e-300))

    # --- driver ---------------------------------------------------------------------------

    def simplify(self, face_budget: int, cancel: CancelToken | None) -> None:
        """Passes over the singular vertices, each trying the shortest improving sequences first,
        until none helps. A sequence that failed is not tried again until something near it changed."""
        work = [v for v in range(len(self.alive)) if self.singular(v) and not self.frozen[v]]
        removed_faces = 0
        commits = 0
        stamp = [0] * len(self.alive)  # the commit that last changed each vertex's neighbourhood
        failed: dict[str, tuple[int, set[int]]] = {}
        while work:
            following: set[int] = set()
            for v in work:
                if cancel is not None:
                    cancel.check()
                if not self.singular(v):
                    continue
                found: list = []
                self.search([v], SEARCH_DEPTH, face_budget - removed_faces, (0, 0), [], found)
                changed = None
                dead: set[tuple] = set()
                for _, _, key, steps in sorted(found):
                    if key in failed and all(stamp[x] <= failed[key][0] for x in failed[key][1]):
                        continue
                    changed = self.try_sequence(steps, dead)
                    if changed is not None:
                        break
                    failed[key] = (commits, self.near(steps))
                self.log.clear()
                if changed is not None:
                    commits += 1
                    removed_faces += sum(kind != "rotate" for kind, _ in steps)
                    for x in changed:
                        following.add(x)
                        for y in self.ring(x) | {x}:
                            stamp[y] = commits
                            following.add(y)
            work = sorted(x for x in following if self.singular(x) and not self.frozen[x])

    def near(self, steps: list) -> set[int]:
        """The vertices around the ones a sequence of edits names."""
        named = set()
        for kind, args in steps:
            if kind == "collapse":
                named.update(self.faces[args[0]] or ())
            else:
                named.update(args[:2] if kind == "rotate" else args)
        return set().union(named, *(self.ring(x) for x in named if self.alive[x]))

    def result(self, dtype) -> tuple[np.ndarray, np.ndarray]:
        quads = np.array([q for q in self.faces if q is not None], dtype=np.int64).reshape(-1, 4)
        used = np.zeros(len(self.pos), bool)
        used[quads.reshape(-1)] = True
        remap = np.cumsum(used) - 1
        return self.pos[used].astype(dtype), remap[quads]
