"""Retopology metrics against meshes whose answers are known in closed form."""
import numpy as np
import pytest

import mesh_corpus
from backend.geometry.metrics import face_count_error, retopo_report, surface_distance, topology_stats
from backend.geometry.surface_distance import SurfaceQuery, closest_points_on_triangles
from shared.payload import MeshPayload


def test_topology_of_primitives_matches_euler_formula():
    cube = topology_stats(mesh_corpus.load("cube"))
    assert (cube.vertices, cube.edges, cube.faces, cube.euler) == (8, 12, 6, 2)
    assert cube.quad_ratio == 1.0 and cube.boundary_edges == 0 and cube.nonmanifold_edges == 0
    assert cube.singular_vertices == 8  # every cube corner has valence 3

    torus = topology_stats(mesh_corpus.load("torus"))
    assert torus.euler == 0 and torus.singular_vertices == 0 and torus.valence4_share == 1.0

    grid = topology_stats(mesh_corpus.load("grid"))
    assert grid.boundary_edges == 4 * 9 and grid.euler == 1 and grid.singular_vertices == 0

    sphere = topology_stats(mesh_corpus.load("uv_sphere"))
    assert sphere.euler == 2 and sphere.singular_vertices == 2  # the two poles
    assert sphere.quad_ratio == pytest.approx(448 / 512)


def test_topology_counts_nonmanifold_and_welds_split_vertices():
    fin = topology_stats(mesh_corpus.load("nonmanifold_fin"))
    assert fin.nonmanifold_edges == 1
    soup = topology_stats(mesh_corpus.load("soup"))
    welded = topology_stats(mesh_corpus.load("cow"))
    assert soup.euler == welded.euler and soup.boundary_edges == welded.boundary_edges


def test_closest_point_never_beats_a_dense_barycentric_search():
    rng = np.random.default_rng(1)
    a, b, c, p = (rng.normal(size=(3000, 3)) for _ in range(4))
    exact = np.linalg.norm(p - closest_points_on_triangles(p, a, b, c), axis=1)
    best = np.full(len(p), np.inf)
    n = 40
    for i in range(n + 1):
        for j in range(n + 1 - i):
            best = np.minimum(best, np.linalg.norm(p - (a + (b - a) * i / n + (c - a) * j / n), axis=1))
    assert np.all(exact <= best + 1e-12)
    assert np.all(best - exact < 0.05)  # the grid is within a grid step of the true closest point


def test_distance_to_sphere_is_radial_error():
    sphere = mesh_corpus.load("uv_sphere")
    query = SurfaceQuery(sphere.positions, sphere.triangulated(), samples=20_000)
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(500, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    far = dirs * 1.5
    d = query.distance(far)
    assert np.allclose(d, 0.5, atol=0.01)  # faceting of a 32x16 sphere is below 1% of the radius


def test_self_distance_is_zero_and_offset_is_measured():
    bracket = mesh_corpus.load("bracket")
    same = surface_distance(bracket, bracket)
    assert same.hausdorff < 1e-6 and same.chamfer < 1e-9
    moved = MeshPayload(bracket.positions + np.float32([0, 0, 0.05]), bracket.face_sizes, bracket.face_indices)
    shifted = surface_distance(moved, bracket)
    assert shifted.hausdorff * shifted.diagonal == pytest.approx(0.05, rel=0.05)
    assert 0 < shifted.chamfer < shifted.hausdorff


def test_report_has_every_column():
    cube = mesh_corpus.load("cube")
    report = retopo_report(cube, cube, target=5, samples=2000)
    for key in ("hausdorff", "chamfer", "quad_ratio", "valence4_share", "singular_vertices", "euler",
                "boundary_edges", "nonmanifold_edges", "face_count_error"):
        assert key in report
    assert report["face_count_error"] == pytest.approx(0.2)
    assert face_count_error(cube, 6) == 0
