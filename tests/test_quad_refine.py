"""Conforming quad refinement: chord splitting and local refinement near points."""
import numpy as np
import pytest

import mesh_corpus
from backend.geometry import quad_engines, repair
from backend.geometry.quad_refine import QuadDual, far_points, refine_near, split_chord, split_cut_edges


def grid(n, m):
    """An n x m grid of unit quads in the z=0 plane (quad i + n*j at column i, row j)."""
    v = np.array([(i, j, 0.0) for j in range(m + 1) for i in range(n + 1)])
    q = np.array([(j * (n + 1) + i, j * (n + 1) + i + 1, (j + 1) * (n + 1) + i + 1, (j + 1) * (n + 1) + i)
                  for j in range(m) for i in range(n)])
    return v, q


def torus(n, m):
    """A closed n x m quad torus."""
    u, w = np.meshgrid(np.arange(n) * 2 * np.pi / n, np.arange(m) * 2 * np.pi / m, indexing="ij")
    v = np.stack([(2 + np.cos(w)) * np.cos(u), (2 + np.cos(w)) * np.sin(u), np.sin(w)], axis=-1).reshape(-1, 3)
    index = lambda i, j: (i % n) * m + (j % m)  # noqa: E731
    q = np.array([(index(i, j), index(i + 1, j), index(i + 1, j + 1), index(i, j + 1))
                  for i in range(n) for j in range(m)])
    return v, q


def cube():
    v = np.array([(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
    q = np.array([(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)])
    return v, q


def edge_uses(q):
    """Directed edges (each must appear once) and undirected edge use counts."""
    directed = np.stack([q, np.roll(q, -1, axis=1)], axis=2).reshape(-1, 2)
    _, uses = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
    return directed, uses


def euler(v, q):
    _, uses = edge_uses(q)
    return len(np.unique(q)) - len(uses) + len(q)


def assert_clean_quads(v, q, before_v, before_q):
    """Pure quads, consistently oriented manifold, no T-junction (as many boundary edges per unit
    of boundary length as the input), same Euler characteristic, old vertices unmoved."""
    assert q.ndim == 2 and q.shape[1] == 4 and len(np.unique(q)) == len(v)
    assert (np.sort(q, axis=1)[:, 1:] != np.sort(q, axis=1)[:, :-1]).all()  # no repeated corner
    directed, uses = edge_uses(q)
    assert len(np.unique(directed, axis=0)) == len(directed) and uses.max() <= 2
    assert euler(v, q) == euler(before_v, before_q)
    np.testing.assert_array_equal(v[:len(before_v)], before_v)

    def rim_length(vv, qq):
        d, _ = edge_uses(qq)
        key, inverse, count = np.unique(np.sort(d, axis=1), axis=0, return_inverse=True, return_counts=True)
        rim = key[count == 1]
        return np.linalg.norm(vv[rim[:, 0]] - vv[rim[:, 1]], axis=1).sum()

    assert rim_length(v, q) == pytest.approx(rim_length(before_v, before_q))


def assert_midpoints(v, q, before_v, before_q):
    """Every new vertex is the midpoint of an old edge or the centre of an old quad."""
    old_edges = np.unique(np.sort(np.stack([before_q, np.roll(before_q, -1, axis=1)], 2).reshape(-1, 2), 1), axis=0)
    candidates = np.concatenate([before_v[old_edges].mean(axis=1), before_v[before_q].mean(axis=1)])
    for point in v[len(before_v):]:
        assert np.linalg.norm(candidates - point, axis=1).min() < 1e-12


def test_split_chord_on_a_grid_adds_one_face_per_quad_crossed():
    v, q = grid(4, 3)
    assert sorted(np.array(QuadDual(q).chord(5, 0)) // 4) == [1, 1, 5, 5, 9, 9]  # a column, both sides of each edge
    nv, nq = split_chord(v, q, 5, 0)
    assert len(nq) == len(q) + 3 and len(nv) == len(v) + 4  # 4 midpoints on the column's 4 crossed edges
    assert_clean_quads(nv, nq, v, q)
    assert_midpoints(nv, nq, v, q)
    # the column's quads are now half as wide, the others unchanged
    widths = np.ptp(nv[nq][:, :, 0], axis=1)
    assert np.sort(widths)[:6].tolist() == [0.5] * 6 and (np.sort(widths)[6:] == 1).all()
    nv, nq = split_chord(v, q, 5, 1)
    assert len(nq) == len(q) + 4


@pytest.mark.parametrize("mesh, face, direction, length", [(torus(8, 5), 0, 0, 5), (torus(8, 5), 0, 1, 8),
                                                          (cube(), 0, 0, 4), (cube(), 3, 1, 4)])
def test_split_chord_on_closed_meshes_closes_the_loop(mesh, face, direction, length):
    v, q = mesh
    nv, nq = split_chord(v, q, face, direction)
    assert len(nq) == len(q) + length
    assert_clean_quads(nv, nq, v, q)
    _, uses = edge_uses(nq)
    assert (uses == 2).all()  # still closed
    assert_midpoints(nv, nq, v, q)


def test_a_self_crossing_chord_makes_four_quads_where_it_crosses_itself():
    mesh = mesh_corpus.load("uv_sphere")
    part = repair.clean(mesh.positions, mesh.triangulated(), [])
    out = quad_engines.quadriflow(part.vertices, part.triangles, 60, seed=0)
    v, q = out["vertices"].astype(float), out["quads"]
    dual = QuadDual(q)
    for face in range(len(q)):
        halves = dual.chord(face, 0)
        visits = np.bincount(np.array(halves) // 4, minlength=len(q)) // 2
        if (visits == 2).any():
            break
    else:
        pytest.fail("no self-crossing chord on this QuadriFlow sphere")
    nv, nq = split_chord(v, q, face, 0)
    assert len(nq) == len(q) + (visits == 1).sum() + 3 * (visits == 2).sum()
    assert len(nv) == len(v) + len(halves) // 2 + (visits == 2).sum()  # crossed edges + centres
    assert_clean_quads(nv, nq, v, q)
    assert_midpoints(nv, nq, v, q)


def test_split_cut_edges_refuses_an_odd_cut():
    v, q = grid(2, 2)
    cut = np.zeros((4, 4), bool)
    cut[0, 1] = cut[1, 3] = cut[0, 3] = True  # quad 0 has three cut edges
    with pytest.raises(ValueError):
        split_cut_edges(v, q, cut)


@pytest.mark.parametrize("budget", [0, 5, 15, 40, 120])
def test_refine_near_keeps_to_its_budget_and_the_mesh_clean(budget):
    v, q = grid(12, 12)
    points = np.array([(5.5, 5.5, 0.0), (6.2, 5.8, 0.0), (2.5, 9.5, 0.0)])
    nv, nq = refine_near(v, q, points, max_new_faces=budget)
    assert len(q) <= len(nq) <= len(q) + budget
    if budget >= 15:
        assert len(nq) > len(q)
    assert_clean_quads(nv, nq, v, q)
    assert_midpoints(nv, nq, v, q)


def test_refine_near_shortens_edges_near_the_points_only():
    v, q = torus(24, 12)
    point = v[q[100]].mean(axis=0)
    nv, nq = refine_near(v, q, [point], max_new_faces=40)
    assert len(q) < len(nq) <= len(q) + 40
    assert_clean_quads(nv, nq, v, q)
    _, uses = edge_uses(nq)
    assert (uses == 2).all()

    def edge_length_near(vv, qq):
        p = vv[qq[np.linalg.norm(vv[qq].mean(axis=1) - point, axis=1) < 0.5]]
        return np.linalg.norm(np.roll(p, -1, axis=1) - p, axis=2).mean()

    assert edge_length_near(nv, nq) < 0.75 * edge_length_near(v, q)
    # far away nothing changed
    far_before = {tuple(sorted(f)) for f in q[np.linalg.norm(v[q].mean(axis=1) - point, axis=1) > 2.0]}
    assert far_before <= {tuple(sorted(f)) for f in nq.tolist()}


def test_refine_near_on_a_closed_quadriflow_mesh_stays_closed():
    mesh = mesh_corpus.load("torus")
    part = repair.clean(mesh.positions, mesh.triangulated(), [])
    out = quad_engines.quadriflow(part.vertices, part.triangles, 400, seed=0)
    v, q = out["vertices"].astype(float), out["quads"]
    points = part.vertices[::97]
    nv, nq = refine_near(v, q, points, max_new_faces=60)
    assert len(q) + 10 < len(nq) <= len(q) + 60
    assert_clean_quads(nv, nq, v, q)
    _, uses = edge_uses(nq)
    assert (uses == 2).all()


def test_far_points_are_where_the_quads_miss_the_part_both_ways():
    v, q = grid(8, 8)
    part_v = v.copy()
    part_v[4 * 9 + 4, 2] = 2.0  # a spike the flat quads miss
    part_t = q[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)
    points, largest = far_points(v, q, part_v, part_t, 1.0, samples=5000)
    assert len(points) and (np.linalg.norm(points[:, :2] - (4, 4), axis=1) < 1.0).all()
    assert points[:, 2].max() > 1.9 and largest == pytest.approx(2.0)  # the spike's tip, far from the quads
    lifted = v + (0, 0, 0.5)
    points, largest = far_points(lifted, q, v, part_t, 0.6, samples=5000)
    assert len(points) == 0 and largest == pytest.approx(0.5)
    stray, _ = far_points(lifted, q, v, part_t, 0.4, samples=5000)
    assert set(np.round(stray[:, 2], 9)) == {0.0, 0.5}  # part points far from the quads, quad points far from the part
