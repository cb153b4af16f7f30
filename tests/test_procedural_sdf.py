"""The SDF engine: primitives are exact, culling is exact, low-poly pieces match their solids."""
import numpy as np
import pytest

from backend.procedural.lowpoly import face_normals
from backend.procedural.sdf import (Box, Difference, Extrusion, Hull, Lathe, SmoothUnion, Torus, Union, cylinder, nearest,
                                    polygon_distance, revolve_wall, rod, shell, sphere)

RNG = np.random.default_rng(7)
POINTS = RNG.uniform(-1.5, 1.5, size=(4000, 3))


def test_polygon_distance_matches_a_square():
    square = np.array([(0, 0), (1, 0), (1, 1), (0, 1.0)])
    q = np.array([[0.5, 0.5], [2.0, 0.5], [-1.0, -1.0], [0.9, 0.5]])
    np.testing.assert_allclose(polygon_distance(q, square), [-0.5, 1.0, np.sqrt(2), -0.1])


def test_box_is_exact():
    half = np.array([0.3, 0.5, 0.2])
    q = np.abs(POINTS) - half
    expected = np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(1), 0)
    np.testing.assert_allclose(Box(half * 2)(POINTS), expected, atol=1e-12)


def test_lathe_cylinder_is_exact():
    r, h = 0.4, 0.8
    radial = np.hypot(POINTS[:, 0], POINTS[:, 1]) - r
    axial = np.abs(POINTS[:, 2] - h / 2) - h / 2
    w = np.stack([radial, axial], 1)
    expected = np.minimum(w.max(1), 0) + np.linalg.norm(np.maximum(w, 0), axis=1)
    np.testing.assert_allclose(cylinder(r, h)(POINTS), expected, atol=1e-12)


def test_torus_full_and_arc():
    full = Torus(0.6, 0.15)
    expected = np.hypot(np.hypot(POINTS[:, 0], POINTS[:, 1]) - 0.6, POINTS[:, 2]) - 0.15
    np.testing.assert_allclose(full(POINTS), expected, atol=1e-12)
    half = Torus(0.6, 0.15, arc=np.pi)  # keeps y >= 0
    assert half(np.array([[0.0, 0.6, 0.0]]))[0] == pytest.approx(-0.15)
    # beyond the flat end discs (in the plane y = 0, centred at x = +-0.6, radius 0.15)
    assert half(np.array([[0.6, -0.3, 0.0]]))[0] == pytest.approx(0.3)
    assert half(np.array([[0.0, -0.6, 0.0]]))[0] == pytest.approx(np.hypot(0.6, 0.45))
    assert half(np.array([[0.6, 0.05, 0.0]]))[0] == pytest.approx(-0.05)  # inside, nearest the end face


def test_placement_keeps_distances_exact():
    moved = Box((0.2, 0.4, 0.6)).rotated("z", 0.7).at(0.3, -0.2, 0.5)
    r = np.array([[np.cos(0.7), -np.sin(0.7), 0], [np.sin(0.7), np.cos(0.7), 0], [0, 0, 1]])
    local = (POINTS - [0.3, -0.2, 0.5]) @ r
    np.testing.assert_allclose(moved(POINTS), Box((0.2, 0.4, 0.6))(local), atol=1e-12)


def test_union_is_the_minimum_and_nearest_names_the_child():
    shapes = [Box((0.2, 0.2, 0.2)).at(x, 0, 0) for x in np.linspace(-1, 1, 6)] + [sphere(0.3).at(0, 0.8, 0)]
    d, which = nearest(shapes, POINTS)
    brute = np.stack([s(POINTS) for s in shapes], 1)
    np.testing.assert_array_equal(d, brute.min(1))
    np.testing.assert_array_equal(which, brute.argmin(1))
    np.testing.assert_array_equal(Union(*shapes)(POINTS), brute.min(1))


def test_smooth_union_fills_the_seam_and_equals_min_far_away():
    a, b = sphere(0.3, 24, 12), sphere(0.3, 24, 12).at(0.5, 0, 0)
    smooth = SmoothUnion(a, b, k=0.1)
    hard = np.minimum(a(POINTS), b(POINTS))
    got = smooth(POINTS)
    assert np.all(got <= hard + 1e-12)
    far = np.abs(a(POINTS) - b(POINTS)) > 0.1
    np.testing.assert_allclose(got[far], hard[far])
    seam = np.array([[0.25, 0.0, 0.2]])
    assert smooth(seam)[0] < 0 < min(a(seam)[0], b(seam)[0])


SHAPES = {
    "box": Box((0.5, 0.3, 0.2)), "cylinder": cylinder(0.3, 0.5), "sphere": sphere(0.4),
    "torus": Torus(0.5, 0.1), "arc": Torus(0.5, 0.1, arc=4.0), "cup": revolve_wall([(0.2, 0), (0.25, 0.3)], 0.01, 0.02),
    "shade": shell([(0.3, 0.0), (0.2, 0.3)], 0.006, 20), "prism": Extrusion([(0, 0), (0.4, 0), (0.2, 0.3)], 0.1),
    "rod": rod((0, 0, 0), (0.3, 0.2, 0.5), 0.03), "hull": Hull(RNG.normal(size=(40, 3)) * 0.3),
    "cut": Difference(Box((0.6, 0.4, 0.3)), Box((0.2, 0.2, 0.5)), cylinder(0.08, 0.5).rotated("x", np.pi / 2)),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_pieces_are_closed_outward_and_on_the_surface(name):
    shape = SHAPES[name]
    for piece in shape.pieces():
        normals, centroids = face_normals(piece)
        volume = np.einsum("ij,ij->i", normals, centroids).sum() / 6
        assert volume > 0, "faces must point outward"
        # every undirected edge is shared by exactly two faces, in opposite directions: closed
        starts = np.concatenate([[0], np.cumsum(piece.face_sizes)])
        edges = set()
        for f in range(len(piece.face_sizes)):
            ring = list(piece.face_indices[starts[f]:starts[f + 1]])
            for a, b in zip(ring, ring[1:] + ring[:1]):
                assert (a, b) not in edges
                edges.add((a, b))
        assert all((b, a) in edges for a, b in edges)
        assert np.abs(shape(piece.vertices)).max() < 0.01  # low-poly vertices lie on the solid
        assert len(piece.corner_uv) == len(piece.face_indices)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError):
        Box((0.1, 0.0, 0.1))
    with pytest.raises(ValueError):
        Lathe([(0, 0), (-0.1, 0.2), (0, 0.3)])
    with pytest.raises(ValueError):
        Union()


def test_difference_sign_and_volume():
    cut = Difference(Box((1.0, 1.0, 1.0)), Box((0.4, 0.4, 2.0)))
    assert cut(np.array([[0.0, 0.0, 0.0]]))[0] == pytest.approx(0.2)       # in the hole
    assert cut(np.array([[0.3, 0.0, 0.0]]))[0] == pytest.approx(-0.1)      # in the wall
    (piece,) = cut.pieces()
    normals, centroids = face_normals(piece)
    assert np.einsum("ij,ij->i", normals, centroids).sum() / 6 == pytest.approx(1.0 - 0.16, rel=1e-5)
    inside = RNG.uniform(-0.5, 0.5, size=(2000, 3))
    assert ((cut(inside) < 0).mean()) == pytest.approx(0.84, abs=0.03)
    with pytest.raises(ValueError):
        Difference(Box((1, 1, 1)))
