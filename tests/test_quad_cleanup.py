"""Singularity reduction on pure-quad meshes: injected defects come back regular, real remesher
output loses singular vertices, and the result stays a manifold pure-quad mesh of the same Euler."""
import functools

import numpy as np
import pytest

import mesh_corpus
from backend.geometry import quad_engines, repair
from backend.geometry.polymesh import bbox_diagonal
from backend.geometry.quad_cleanup import reduce_singularities
from backend.geometry.quad_remesh import _quad_euler, singular_count
from backend.geometry.surface_distance import SurfaceQuery, sample_surface
from backend.runtime import CancelToken, Cancelled


def torus_grid(rows: int = 12, cols: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A closed, regular quad torus (every vertex valence 4)."""
    u = 2 * np.pi * np.arange(cols) / cols
    v = 2 * np.pi * np.arange(rows) / rows
    uu, vv = np.meshgrid(u, v, indexing="ij")
    verts = np.stack([(1 + 0.4 * np.cos(vv)) * np.cos(uu), (1 + 0.4 * np.cos(vv)) * np.sin(uu), 0.4 * np.sin(vv)],
                     axis=-1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(cols), np.arange(rows), indexing="ij")
    quads = np.stack([i * rows + j, ((i + 1) % cols) * rows + j, ((i + 1) % cols) * rows + (j + 1) % rows,
                      i * rows + (j + 1) % rows], axis=-1).reshape(-1, 4)
    return verts, quads


def flat_grid(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """An open n x n patch of unit squares in the xy plane."""
    x, y = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    verts = np.stack([x, y, np.zeros_like(x)], axis=-1).reshape(-1, 3).astype(float)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    a = i * (n + 1) + j
    quads = np.stack([a, a + n + 1, a + n + 2, a + 1], axis=-1).reshape(-1, 4)
    return verts, quads


def faces_on_edge(quads, a, b):
    """(face walking a->b, face walking b->a)."""
    def walking(s, t):
        for f, q in enumerate(quads.tolist()):
            for k in range(4):
                if q[k] == s and q[(k + 1) % 4] == t:
                    return f, k
        raise AssertionError("edge not found")
    return walking(a, b), walking(b, a)


def rotate_by_hand(quads, a, b):
    """Re-split the hexagon around edge a-b along the diagonal from the vertex after a."""
    (f1, i), (f2, j) = faces_on_edge(quads, a, b)
    q1, q2 = quads[f1].tolist(), quads[f2].tolist()
    hexagon = [a, q2[(j + 2) % 4], q2[(j + 3) % 4], b, q1[(i + 2) % 4], q1[(i + 3) % 4]]
    out = quads.copy()
    out[f1] = hexagon[1:5]
    out[f2] = hexagon[4:6] + hexagon[0:2]
    return out


def assert_manifold_quads(quads):
    """Every face has 4 distinct corners, every directed edge is used once, and the faces around
    each vertex form a single fan."""
    assert quads.shape[1] == 4 and np.all(np.sort(quads, 1)[:, 1:] != np.sort(quads, 1)[:, :-1])
    directed = quads[:, [0, 1, 1, 2, 2, 3, 3, 0]].reshape(-1, 2)
    assert len(np.unique(directed, axis=0)) == len(directed)
    around: dict[int, dict[int, int]] = {}
    for q in quads.tolist():
        for k in range(4):
            around.setdefault(q[k], {})[q[k - 1]] = q[(k + 1) % 4]
    for fan in around.values():
        starts = set(fan) - set(fan.values())  # an open fan has one start, a closed one none
        assert len(starts) <= 1
        start = starts.pop() if starts else min(fan)
        seen, x = 1, fan[start]
        while x in fan and x != start and seen <= len(fan):
            x, seen = fan[x], seen + 1
        assert seen == len(fan)


def test_an_injected_rotation_on_a_torus_is_undone():
    verts, quads = torus_grid()
    a, b = quads[40, 0], quads[40, 1]
    broken = rotate_by_hand(quads, a, b)
    assert singular_count(quads) == 0 and singular_count(broken) == 4
    v, q = reduce_singularities(verts, broken)
    assert singular_count(q) == 0 and len(q) == len(quads) and _quad_euler(q) == 0
    assert_manifold_quads(q)


def test_a_split_vertex_is_collapsed_and_a_doublet_removed():
    verts, quads = flat_grid()
    # split interior vertex c (valence 4) into two valence-3 vertices joined by a new quad whose
    # other corners (c's east and west neighbours) get valence 5: a diagonal collapse undoes it
    c = 5 * 11 + 5
    east, west = c + 11, c - 11
    top = len(verts)
    verts = np.concatenate([verts, [verts[c] + [0, 0.3, 0]]])
    verts[c] -= [0, 0.3, 0]
    split = quads.copy()
    for f, q in enumerate(quads):
        if c in q and c + 1 in q:  # the two faces north of c move to the new vertex
            split[f][q == c] = top
    split = np.concatenate([split, [[c, east, top, west]]])
    assert singular_count(split) == 4
    v, q = reduce_singularities(verts, split)
    assert singular_count(q) == 0 and len(q) == len(quads) and _quad_euler(q) == 1
    assert_manifold_quads(q)
    # no face may go when the budget is zero, and a protected vertex is neither moved nor merged
    v, q = reduce_singularities(verts, split, max_face_change=0)
    assert len(q) == len(split) and singular_count(q) <= singular_count(split)
    protect = np.zeros(len(verts), bool)
    protect[top] = True
    v, q = reduce_singularities(verts, split, protect=protect)
    assert np.any(np.all(v == verts[top], axis=1)) and singular_count(q) < singular_count(split)
    # a doublet: a quad cut into two along its diagonal through a new centre vertex
    f = 44
    a, b, cc, d = quads[f]
    centre = len(verts)
    verts = np.concatenate([verts, [verts[[a, cc]].mean(0)]])
    doubled = np.concatenate([np.delete(quads, f, 0), [[a, b, cc, centre], [a, centre, cc, d]]])
    assert singular_count(doubled) == 3
    v, q = reduce_singularities(verts, doubled)
    assert singular_count(q) == 0 and len(q) == len(quads)
    assert_manifold_quads(q)


def test_protected_and_boundary_vertices_do_not_move():
    verts, quads = flat_grid()
    broken = rotate_by_hand(quads, 5 * 11 + 5, 5 * 11 + 6)
    protect = np.zeros(len(verts), bool)
    protect[5 * 11 + 5] = True
    v, q = reduce_singularities(verts, broken, protect=protect)
    assert singular_count(q) == 0
    assert np.array_equal(v[5 * 11 + 5], verts[5 * 11 + 5])
    boundary = (verts[:, 0] == 0) | (verts[:, 0] == 10) | (verts[:, 1] == 0) | (verts[:, 1] == 10)
    assert np.array_equal(v[boundary], verts[boundary])  # nothing was removed: indices kept


def test_cancel_stops_the_pass():
    verts, quads = torus_grid()
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        reduce_singularities(verts, rotate_by_hand(quads, quads[40, 0], quads[40, 1]), cancel=token)


def test_random_injected_rotations_all_come_back_regular():
    verts, quads = torus_grid()
    rng = np.random.default_rng(7)
    for trial in range(6):
        broken = quads.copy()
        for f in rng.choice(len(quads), size=2 + trial, replace=False):
            k = rng.integers(4)
            try:
                broken = rotate_by_hand(broken, broken[f, k], broken[f, (k + 1) % 4])
            except AssertionError:  # that edge was rotated away by an earlier defect
                continue
        assert singular_count(broken) > 0
        v, q = reduce_singularities(verts, broken)
        assert singular_count(q) == 0
        assert _quad_euler(q) == 0 and len(q) == len(broken)
        assert_manifold_quads(q)


def test_non_manifold_and_degenerate_parts_are_left_alone():
    verts, quads = torus_grid()
    broken = rotate_by_hand(quads, quads[40, 0], quads[40, 1])
    # a fin: a third quad on one edge far from the defect, and a quad that repeats a vertex
    a, b = quads[150, 0], quads[150, 1]
    verts = np.concatenate([verts, verts[[a, b]] + [0, 0, 0.3]])
    n = len(verts)
    odd = np.concatenate([broken, [[b, a, n - 2, n - 1], [a, n - 2, n - 2, n - 1]]])
    v, q = reduce_singularities(verts, odd)
    assert len(q) == len(odd) and any(list(row) == [b, a, n - 2, n - 1] for row in q.tolist())
    assert singular_count(q) < singular_count(odd)
    empty_v, empty_q = reduce_singularities(np.zeros((0, 3)), np.zeros((0, 4), np.int64))
    assert len(empty_v) == 0 and len(empty_q) == 0


@functools.lru_cache(maxsize=None)
def remeshed(name: str, engine: str):
    """(vertices, quads) of an engine's remesh of a corpus mesh at 2000 faces, and the input."""
    mesh = mesh_corpus.load(name)
    clean = repair.clean(mesh.positions, mesh.triangulated(), [])
    out = getattr(quad_engines, engine)(clean.vertices, clean.triangles, 2000)
    return out["vertices"], out["quads"], clean


def hausdorff(v, q, clean) -> float:
    """Two-sided distance between a quad mesh and the input, over the input's bbox diagonal."""
    tris = np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])
    to_result = SurfaceQuery(v, tris).distance(np.concatenate([sample_surface(clean.vertices, clean.triangles,
                                                                                20_000)[0], clean.vertices]))
    to_input = SurfaceQuery(clean.vertices, clean.triangles).distance(
        np.concatenate([sample_surface(v, tris, 20_000)[0], v]))
    return max(to_result.max(), to_input.max()) / bbox_diagonal(clean.vertices)


def corner_sines(v, q):
    """Unsigned sine of every corner angle."""
    p = v[q].astype(float)
    nxt, prv = np.roll(p, -1, 1) - p, np.roll(p, 1, 1) - p
    cross = np.linalg.norm(np.cross(nxt, prv), axis=2)
    return cross / np.maximum(np.linalg.norm(nxt, axis=2) * np.linalg.norm(prv, axis=2), 1e-300)


@pytest.mark.parametrize("name,engine", [("bunny", "quadriflow"), ("bunny", "instant_meshes"),
                                         ("torus", "quadriflow"), ("torus", "instant_meshes")])
def test_real_remesher_output_loses_singular_vertices(name, engine):
    verts, quads, clean = remeshed(name, engine)
    v, q = reduce_singularities(verts, quads)
    before, after = singular_count(quads), singular_count(q)
    assert after < before
    assert_manifold_quads(q)
    assert _quad_euler(q) == _quad_euler(quads)
    assert len(quads) * 0.98 <= len(q) <= len(quads)
    assert v.dtype == verts.dtype and len(v) == q.max() + 1
    # the quads stay about as well shaped (the worst 1% of corners barely change) and on the surface
    assert np.quantile(corner_sines(v, q), 0.01) >= 0.8 * np.quantile(corner_sines(verts, quads), 0.01)
    assert hausdorff(v, q, clean) <= 1.05 * hausdorff(verts, quads, clean)
