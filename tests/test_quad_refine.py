"""Local all-quad refinement (quad_refine) and the misses it is driven by (quad_gaps), on
synthetic surfaces with known answers."""
import numpy as np
import pytest

from backend.geometry.polymesh import bbox_diagonal, unique_rows
from backend.geometry.quad_gaps import close_gaps, find_gaps
from backend.geometry.quad_refine import close_marks, quad_edges, refine, refined_face_count
from backend.geometry.quad_remesh import singular_count
from backend.geometry.surface_fit import SurfaceTarget, fit_to_surface


def grid(n: int, size: float = 1.0, height=None) -> tuple[np.ndarray, np.ndarray]:
    """An n x n quad grid over [-size, size]^2 (z from ``height(x, y)``), counter-clockwise."""
    s = np.linspace(-size, size, n + 1)
    u, v = np.meshgrid(s, s, indexing="ij")
    w = np.zeros_like(u) if height is None else height(u, v)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    quads = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], axis=-1).reshape(-1, 4)
    return np.stack([u, v, w], axis=-1).reshape(-1, 3), quads


def triangles_of(quads: np.ndarray) -> np.ndarray:
    return quads[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)


def edge_counts(quads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return unique_rows(np.sort(quads[:, [0, 1, 1, 2, 2, 3, 3, 0]].reshape(-1, 2), axis=1), return_counts=True)


@pytest.mark.parametrize("seed", range(6))
def test_refinement_is_conforming_all_quads_and_covers_the_same_area(seed):
    x, quads = grid(7)
    edges, side_edge = quad_edges(quads)
    marked = np.random.default_rng(seed).random(len(edges)) < 0.08
    new_x, new_quads = refine(x, quads, marked)
    assert len(new_quads) == refined_face_count(side_edge, marked) > len(quads)
    p = new_x[new_quads]
    area = 0.5 * np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])[:, 2]
    assert (area > 0).all() and area.sum() == pytest.approx(4.0)  # no quad turned over, none overlaps
    found, counts = edge_counts(new_quads)
    assert counts.max() == 2
    rim = new_x[found[counts == 1]]  # a T-junction would leave an open edge inside the square
    assert np.all(np.isclose(np.abs(rim[..., :2]), 1.0).any(axis=2))
    assert len(np.unique(new_quads)) - len(found) + len(new_quads) == 1  # Euler characteristic of a disk
    assert np.array_equal(new_x[:len(x)], x)


def test_marks_close_to_templates_and_strips_add_no_singular_vertex():
    x, quads = grid(5)
    edges, side_edge = quad_edges(quads)
    adjacent = np.zeros(len(edges), bool)
    adjacent[side_edge[12, :2]] = True  # two adjacent sides of the middle quad: it gets all four
    assert close_marks(side_edge, adjacent)[side_edge[12]].all()
    # every horizontal edge of one column of quads: each quad of it has two opposite sides marked
    ends = x[edges]
    across = np.isclose(ends[:, 0, 0] + ends[:, 1, 0], -0.8) & np.isclose(ends[:, 0, 1], ends[:, 1, 1])
    new_x, new_quads = refine(x, quads, across)
    assert len(new_quads) == len(quads) + 2 * 5
    assert singular_count(new_quads) == singular_count(quads)
    one = np.zeros(len(edges), bool)
    one[side_edge[0, 0]] = True  # a rim edge: only its own quad changes, into four
    assert len(refine(x, quads, one)[1]) == len(quads) + 3


def bump(u, v):
    return 0.4 * np.exp(-(u ** 2 + v ** 2) / 0.1 ** 2)


def test_find_gaps_sees_a_miss_inside_a_quad_whose_corners_are_on_the_surface():
    sv, sq = grid(80, height=bump)
    target = SurfaceTarget(sv, triangles_of(sq))
    x, quads = grid(4, height=bump)  # a vertex at the bump's peak; its quads' middles span air
    gaps = find_gaps(x, quads, target, 0.01)
    diag = bbox_diagonal(sv)
    assert np.abs(target.surface.distance(x)).max() < 1e-6 * diag  # every corner on the surface
    assert gaps.surface > 0.03
    assert gaps.rim < 1e-6
    _, side_edge = quad_edges(quads)
    centre = {tuple(sorted(side_edge[f])) for f in range(len(quads)) if np.isin(quads[f], [12]).any()}
    worst = tuple(sorted(gaps.spots[np.argmax(gaps.far)]))
    assert worst in centre  # the worst point is in a quad at the peak


def test_close_gaps_refines_where_the_surface_is_missed_within_the_face_limit():
    sv, sq = grid(80, height=bump)
    target = SurfaceTarget(sv, triangles_of(sq))
    x, quads = grid(5, height=bump)  # the peak in a quad's middle: the coarse grid cuts it off
    before = find_gaps(x, quads, target, 0.016)

    def settle(v, q):
        return fit_to_surface(v, q, sv, triangles_of(sq), target=target), q

    new_x, new_quads, after = close_gaps(x, quads, target, 0.02, 60, settle)
    assert before.surface > 0.05
    assert after.surface < 0.5 * before.surface
    assert len(quads) < len(new_quads) <= 60
    _, counts = edge_counts(new_quads)
    assert counts.max() == 2 and (counts == 1).sum() > 0


def test_close_gaps_adds_rim_vertices_where_the_rim_bends_between_two():
    # a sheet with a round bite out of its rim between two rim vertices of the coarse quads
    sv, sq = grid(80)
    keep = np.linalg.norm(sv[sq].mean(axis=1)[:, :2] - [0.25, -1.2], axis=1) > 0.35
    tris = triangles_of(sq[keep])
    target = SurfaceTarget(sv, tris)

    def settle(v, q):
        return fit_to_surface(v, q, sv, tris, target=target, pull_share=None), q

    x, quads = settle(*grid(4))
    before = find_gaps(x, quads, target, 0.016)
    _, new_quads, after = close_gaps(x, quads, target, 0.02, 40, settle)
    assert before.rim > 0.025  # the fit alone (rims laid along the input's) leaves the bite's bottom out
    assert after.rim < 0.02
    assert len(quads) < len(new_quads) <= 40
