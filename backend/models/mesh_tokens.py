"""Strip tokenisation of quad-dominant meshes for the artist mesh transformer.

Our own scheme in the family of MeshAnything V2's Adjacent Mesh Tokenization and BPT's blocked
coordinates:

* Coordinates are normalised (bounding-box centre at 0, longest side spanning [-1, 1]) and
  quantised to ``levels`` steps per axis; vertices that land in the same cell are one vertex.
* A vertex is a *block* token (which ``block``-sized cube of the grid) and an *offset* token (the
  cell inside that cube); the block token is left out when it equals the previous vertex's block.
* Faces are triangles and quads (n-gons are split into quads and at most one triangle). They are
  walked in strips: ``NEW3``/``NEW4`` starts a face with all its vertices; ``ADJ{3,4}_E{i}`` starts
  a face that shares edge ``i`` of the previous face (reversed, as consistent winding has it), so
  only its one or two new vertices follow. A quad strip costs one face token and two vertices per
  quad.
* Vertices are ranked z, then y, then x; each face starts at its lowest-ranked vertex; a new strip
  starts at the lowest unvisited face; a strip continues across the edge opposite the one it
  entered by when it can (quad loops), else the next edge in order.

``encode`` and ``decode`` round-trip exactly for a quantised mesh (faces as cycles, up to the
vertex order of the arrays).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD, BOS, EOS, NEW3, NEW4 = 0, 1, 2, 3, 4
ADJ3 = (5, 6, 7, 8)        # ADJ3[i]: a triangle across edge i of the previous face
ADJ4 = (9, 10, 11, 12)     # ADJ4[i]: a quad across edge i of the previous face
NUM_SPECIAL = 16
FACE_TOKENS = (NEW3, NEW4, *ADJ3, *ADJ4)


@dataclass(frozen=True)
class TokenSpec:
    """Grid size and block size of a tokeniser (``levels`` divisible by ``block``)."""

    levels: int = 64
    block: int = 8

    @property
    def blocks_per_axis(self) -> int:
        return self.levels // self.block

    @property
    def offset_base(self) -> int:
        return NUM_SPECIAL

    @property
    def block_base(self) -> int:
        return NUM_SPECIAL + self.block ** 3

    @property
    def vocab_size(self) -> int:
        return self.block_base + self.blocks_per_axis ** 3

    def is_offset(self, token: int) -> bool:
        return self.offset_base <= token < self.block_base

    def is_block(self, token: int) -> bool:
        return self.block_base <= token < self.vocab_size


@dataclass
class QuantMesh:
    """A quantised mesh: integer vertices (V,3) in [0, levels) and faces as vertex-index tuples,
    plus the (centre, half extent) that map grid cells back to the input's coordinates."""

    vertices: np.ndarray
    faces: list[tuple[int, ...]]
    center: np.ndarray
    half: float
    levels: int

    def positions(self) -> np.ndarray:
        """Vertex positions in the input's coordinates (cell centres)."""
        return dequantize(self.vertices, self.levels) * self.half + self.center


def normalization(positions: np.ndarray) -> tuple[np.ndarray, float]:
    """(bounding-box centre, half of the longest side) of ``positions``."""
    lo, hi = positions.min(0), positions.max(0)
    return (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-12)


def quantize(points: np.ndarray, levels: int) -> np.ndarray:
    """Normalised coordinates in [-1, 1] -> integer cells in [0, levels)."""
    return np.clip(np.floor((points + 1) / 2 * levels), 0, levels - 1).astype(np.int64)


def dequantize(cells: np.ndarray, levels: int) -> np.ndarray:
    """Integer cells -> normalised cell-centre coordinates in [-1, 1]."""
    return (np.asarray(cells, dtype=np.float64) + 0.5) / levels * 2 - 1


def split_polygon(cycle: list[int]) -> list[list[int]]:
    """A polygon as quads (a fan of quads from its first corner) and at most one triangle."""
    if len(cycle) <= 4:
        return [list(cycle)]
    out, i = [], 1
    while len(cycle) - i >= 3:
        out.append([cycle[0], cycle[i], cycle[i + 1], cycle[i + 2]])
        i += 2
    if len(cycle) - i == 2:
        out.append([cycle[0], cycle[i], cycle[i + 1]])
    return out


def quantize_mesh(positions: np.ndarray, face_sizes: np.ndarray, face_indices: np.ndarray,
                  levels: int, frame: tuple[np.ndarray, float] | None = None) -> QuantMesh:
    """Normalise, quantise and weld a polygon mesh; n-gons split, collapsed and repeated faces dropped.

    ``frame`` = (centre, half extent) to normalise with (default: the mesh's own bounding box).
    """
    positions = np.asarray(positions, dtype=np.float64)
    center, half = frame if frame is not None else normalization(positions)
    cells = quantize((positions - center) / half, levels)
    unique, inverse = np.unique(cells, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    faces, seen = [], set()
    starts = np.concatenate([[0], np.cumsum(face_sizes)])
    for f in range(len(face_sizes)):
        cycle = [int(inverse[i]) for i in face_indices[starts[f]:starts[f + 1]]]
        cycle = [v for k, v in enumerate(cycle) if v != cycle[k - 1]]  # collapsed edges
        if len(cycle) < 3 or len(set(cycle)) < len(cycle):
            continue
        for piece in split_polygon(cycle):
            key = frozenset(piece)
            if key in seen:
                continue
            seen.add(key)
            faces.append(tuple(piece))
    used = sorted({v for f in faces for v in f})
    remap = {v: i for i, v in enumerate(used)}
    return QuantMesh(unique[used], [tuple(remap[v] for v in f) for f in faces], np.asarray(center, np.float64),
                     float(half), levels)


def _rank_order(vertices: np.ndarray) -> np.ndarray:
    """rank[v]: position of vertex v when sorted by z, then y, then x."""
    order = np.lexsort((vertices[:, 0], vertices[:, 1], vertices[:, 2]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _rotate_min(face: tuple[int, ...], rank: np.ndarray) -> tuple[int, ...]:
    k = int(np.argmin([rank[v] for v in face]))
    return face[k:] + face[:k]


def strip_order(mesh: QuantMesh) -> list[tuple[int, tuple[int, ...]]]:
    """The faces in walking order as (edge shared with the previous face or -1, face cycle)."""
    rank = _rank_order(mesh.vertices)
    faces = [_rotate_min(f, rank) for f in mesh.faces]
    order = sorted(range(len(faces)), key=lambda f: [rank[v] for v in faces[f]])
    by_edge: dict[tuple[int, int], list[int]] = {}
    for f, cycle in enumerate(faces):
        for i in range(len(cycle)):
            by_edge.setdefault((cycle[i], cycle[(i + 1) % len(cycle)]), []).append(f)
    visited = np.zeros(len(faces), dtype=bool)
    walk: list[tuple[int, tuple[int, ...]]] = []
    cursor = 0
    current: tuple[int, ...] | None = None
    while len(walk) < len(faces):
        step = None
        if current is not None:
            k = len(current)
            preferred = [2, 1, 3] if k == 4 else [1, 2]
            for edge in preferred:
                a, b = current[edge], current[(edge + 1) % k]
                for g in by_edge.get((b, a), ()):
                    if not visited[g]:
                        step = (edge, g, (b, a))
                        break
                if step:
                    break
        if step is None:
            while visited[order[cursor]]:
                cursor += 1
            g = order[cursor]
            visited[g] = True
            current = faces[g]
            walk.append((-1, current))
            continue
        edge, g, (b, a) = step
        visited[g] = True
        cycle = faces[g]
        s = cycle.index(b)
        current = cycle[s:] + cycle[:s]  # starts with the shared edge (b, a)
        walk.append((edge, current))
    return walk


def encode(mesh: QuantMesh, spec: TokenSpec = TokenSpec()) -> np.ndarray:
    """Token ids of ``mesh`` (without BOS/EOS)."""
    if mesh.levels != spec.levels:
        raise ValueError(f"mesh quantised to {mesh.levels} levels, tokeniser uses {spec.levels}")
    tokens: list[int] = []
    block_of = None

    def vertex(v: int) -> None:
        nonlocal block_of
        x, y, z = (int(c) for c in mesh.vertices[v])
        n = spec.blocks_per_axis
        block = ((x // spec.block) * n + y // spec.block) * n + z // spec.block
        if block != block_of:
            tokens.append(spec.block_base + block)
            block_of = block
        tokens.append(spec.offset_base + ((x % spec.block) * spec.block + y % spec.block) * spec.block
                      + z % spec.block)

    for edge, cycle in strip_order(mesh):
        if edge < 0:
            tokens.append(NEW3 if len(cycle) == 3 else NEW4)
            for v in cycle:
                vertex(v)
        else:
            tokens.append((ADJ3 if len(cycle) == 3 else ADJ4)[edge])
            for v in cycle[2:]:
                vertex(v)
    return np.asarray(tokens, dtype=np.int64)


class Decoder:
    """Incremental decoder: feed tokens one by one; knows which tokens may come next.

    Used by ``decode`` and by generation (the grammar mask keeps every sampled sequence parseable).
    """

    def __init__(self, spec: TokenSpec = TokenSpec()):
        self.spec = spec
        self.cells: list[tuple[int, int, int]] = []
        self.index: dict[tuple[int, int, int], int] = {}
        self.faces: list[tuple[int, ...]] = []
        self.block: int | None = None
        self.pending: list[int] = []     # vertices of the face being read
        self.need = 0                    # vertices still to read for it
        self.after_block = False
        self.done = False

    def allowed(self) -> tuple[bool, bool, bool]:
        """(a face token or EOS, a block token, an offset token) may come next."""
        if self.done:
            return False, False, False
        if self.need == 0:
            return True, False, False
        if self.after_block:
            return False, False, True
        return False, True, self.block is not None

    def repeated_offsets(self) -> list[int]:
        """Offset tokens that would repeat a vertex of the face being read (in the current block)."""
        if self.need == 0 or self.block is None:
            return []
        n, s = self.spec.blocks_per_axis, self.spec.block
        bx, by, bz = self.block // (n * n), (self.block // n) % n, self.block % n
        out = []
        for v in self.pending:
            x, y, z = self.cells[v]
            if (x // s, y // s, z // s) == (bx, by, bz):
                out.append(self.spec.offset_base + ((x % s) * s + y % s) * s + z % s)
        return out

    def face_tokens(self) -> list[int]:
        """Face tokens allowed now (ADJ only across an edge of the previous face)."""
        if not self.faces:
            return [NEW3, NEW4]
        k = len(self.faces[-1])
        return [NEW3, NEW4, *ADJ3[:k], *ADJ4[:k]]

    def feed(self, token: int) -> None:
        spec = self.spec
        token = int(token)
        face_ok, block_ok, offset_ok = self.allowed()
        if token == EOS and face_ok:
            self.done = True
        elif face_ok and token in self.face_tokens():
            if token in (NEW3, NEW4):
                self.pending, self.need = [], 3 if token == NEW3 else 4
            else:
                size = 3 if token in ADJ3 else 4
                edge = (ADJ3 if size == 3 else ADJ4).index(token)
                prev = self.faces[-1]
                a, b = prev[edge], prev[(edge + 1) % len(prev)]
                self.pending, self.need = [b, a], size - 2
        elif block_ok and spec.is_block(token):
            self.block = token - spec.block_base
            self.after_block = True
        elif offset_ok and spec.is_offset(token):
            self.after_block = False
            n, s = spec.blocks_per_axis, spec.block
            o = token - spec.offset_base
            bx, by, bz = self.block // (n * n), (self.block // n) % n, self.block % n
            cell = (bx * s + o // (s * s), by * s + (o // s) % s, bz * s + o % s)
            if cell not in self.index:
                self.index[cell] = len(self.cells)
                self.cells.append(cell)
            self.pending.append(self.index[cell])
            self.need -= 1
            if self.need == 0:
                self.faces.append(tuple(self.pending))
        else:
            raise ValueError(f"token {token} is not allowed here")

    def mesh(self, levels: int, center=(0.0, 0.0, 0.0), half: float = 1.0) -> QuantMesh:
        """The faces read so far (a face still being read is left out)."""
        cells = np.asarray(self.cells, dtype=np.int64).reshape(-1, 3)
        return QuantMesh(cells, list(self.faces), np.asarray(center, np.float64), float(half), levels)


def decode(tokens, spec: TokenSpec = TokenSpec(), center=(0.0, 0.0, 0.0), half: float = 1.0) -> QuantMesh:
    """The mesh of a token sequence (BOS, EOS and PAD ignored at the ends)."""
    reader = Decoder(spec)
    for t in tokens:
        t = int(t)
        if t in (BOS, PAD):
            continue
        if t == EOS:
            break
        reader.feed(t)
    return reader.mesh(spec.levels, center, half)


def canonical_faces(mesh: QuantMesh) -> set[tuple[tuple[int, int, int], ...]]:
    """Faces as cycles of cells, each rotated to its smallest cell: compares meshes exactly."""
    out = set()
    for f in mesh.faces:
        cyc = [tuple(int(c) for c in mesh.vertices[v]) for v in f]
        k = cyc.index(min(cyc))
        out.add(tuple(cyc[k:] + cyc[:k]))
    return out
