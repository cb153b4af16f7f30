"""Local refinement of a quad mesh that stays all quads and conforming (no T-junctions): the
edge-driven 3-refinement templates (after Schneiders).

Edges are marked; a marked edge gets two new vertices at its thirds. Every quad then follows the
template for its marked edges, rotated into place:
- none: kept;
- one (a-b): 4 quads, three small ones along a-b and one over them:
  (a, p1, r1, d), (p1, p2, r2, r1), (p2, b, c, r2), (r1, r2, c, d);
- two opposite (a-b, d-c): 3 strips, no new inner vertex;
- all four: the 3 x 3 grid (9 quads).
Two adjacent marked edges or three have no template: the quad's other edges are marked too, until
no quad is left so (:func:`close_marks`). Both quads at an edge see its mark, so they insert the
same vertices there. New vertices sit on the old quads (bilinear); fitting them onto a surface is
the caller's business. A one-edge template leaves two inner vertices of valence 3 and raises two
corners' valence by one (the price of staying local); strips and grids add no singular vertex.
"""
from __future__ import annotations

import numpy as np

from .polymesh import unique_rows

FACES_PER_TEMPLATE = {0: 1, 1: 4, 2: 3, 4: 9}  # by marked edges (after :func:`close_marks`; 2: opposite)


def quad_edges(quads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mesh's undirected edges (E,2) and, per quad side a-b, b-c, c-d, d-a, its edge (F,4)."""
    sides = np.sort(np.asarray(quads, np.int64).reshape(-1, 4)[:, [0, 1, 1, 2, 2, 3, 3, 0]].reshape(-1, 2), axis=1)
    edges, inverse = unique_rows(sides, return_inverse=True)
    return edges, inverse.reshape(-1, 4)


def close_marks(side_edge: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """``marked`` (E,) grown until every quad has no, one, two opposite or four marked edges."""
    marked = np.array(marked, bool)
    while True:
        m = marked[side_edge]
        count = m.sum(axis=1)
        grow = (count == 3) | ((count == 2) & (m[:, 0] != m[:, 2]))
        if not grow.any():
            return marked
        marked[side_edge[grow].reshape(-1)] = True


def refined_face_count(side_edge: np.ndarray, marked: np.ndarray) -> int:
    """How many quads :func:`refine` makes with ``marked`` edges (closed first)."""
    count = close_marks(side_edge, marked)[side_edge].sum(axis=1)
    return int(sum(FACES_PER_TEMPLATE[int(c)] * int(n) for c, n in zip(*np.unique(count, return_counts=True))))


def _bilinear(corners: np.ndarray, s: float, t: float) -> np.ndarray:
    a, b, c, d = corners
    return (1 - s) * (1 - t) * a + s * (1 - t) * b + s * t * c + (1 - s) * t * d


def refine(vertices: np.ndarray, quads: np.ndarray, marked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(vertices, quads)`` with the ``marked`` edges (E,) bool, indexed as :func:`quad_edges`
    gives them, split in three; see the module docstring. Old vertices keep their indices, new
    ones are appended."""
    x = np.asarray(vertices, np.float64).reshape(-1, 3)
    quads = np.asarray(quads, np.int64).reshape(-1, 4)
    edges, side_edge = quad_edges(quads)
    marked = close_marks(side_edge, marked)
    split = np.flatnonzero(marked)
    thirds = len(x) + 2 * np.arange(len(split))  # edge split[k] gets thirds[k] (1/3 from its lower end), +1
    first = np.full(len(edges), -1)
    first[split] = thirds
    a, b = x[edges[split, 0]], x[edges[split, 1]]
    points = [x, np.stack([a + (b - a) / 3, a + 2 * (b - a) / 3], axis=1).reshape(-1, 3)]
    count = len(x) + 2 * len(split)

    def on_edge(u: int, w: int, e: int) -> tuple[int, int]:
        """The two vertices on edge ``e`` = u-w, in order from u to w."""
        return (first[e], first[e] + 1) if u < w else (first[e] + 1, first[e])

    m = marked[side_edge]
    out: list[list[int]] = []
    for f in np.flatnonzero(m.any(axis=1)):
        bits = m[f]
        shift = int(np.argmax(bits))  # a marked side first: a-b
        a_, b_, c_, d_ = (int(v) for v in np.roll(quads[f], -shift))
        e = np.roll(side_edge[f], -shift)
        corners = x[[a_, b_, c_, d_]]
        p1, p2 = on_edge(a_, b_, e[0])
        if bits.sum() == 1:
            r1, r2 = count, count + 1
            points.append(np.stack([_bilinear(corners, 1 / 3, 0.5), _bilinear(corners, 2 / 3, 0.5)]))
            count += 2
            out += [[a_, p1, r1, d_], [p1, p2, r2, r1], [p2, b_, c_, r2], [r1, r2, c_, d_]]
        elif bits.sum() == 2:
            q1, q2 = on_edge(d_, c_, e[2])
            out += [[a_, p1, q1, d_], [p1, p2, q2, q1], [p2, b_, c_, q2]]
        else:
            grid = np.empty((4, 4), np.int64)  # grid[i, j]: i along a-b, j along a-d
            grid[0, 0], grid[3, 0], grid[3, 3], grid[0, 3] = a_, b_, c_, d_
            grid[1:3, 0] = (p1, p2)
            grid[3, 1:3] = on_edge(b_, c_, e[1])
            grid[1:3, 3] = on_edge(d_, c_, e[2])
            grid[0, 1:3] = on_edge(a_, d_, e[3])
            grid[1:3, 1:3] = count + np.arange(4).reshape(2, 2)
            points.append(np.stack([_bilinear(corners, i / 3, j / 3) for i in (1, 2) for j in (1, 2)]))
            count += 4
            out += [[grid[i, j], grid[i + 1, j], grid[i + 1, j + 1], grid[i, j + 1]]
                    for i in range(3) for j in range(3)]
    kept = quads[~m.any(axis=1)]
    return np.concatenate(points), np.concatenate([kept, np.array(out, np.int64).reshape(-1, 4)])
