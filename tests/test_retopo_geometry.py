"""The retopo building blocks on their own: repair, pairing, symmetry, SDF rebuild, child processes."""
import time

import numpy as np
import pytest

import mesh_corpus
from backend.geometry import repair
from backend.geometry.killable import ChildFailure, call_in_child
from backend.geometry.polymesh import euler_characteristic, nonmanifold_edge_count, payload_from_mixed
from backend.geometry.quad_pairing import pair_triangles, split_into_quads
from backend.geometry.sdf_remesh import sdf_remesh
from backend.geometry.symmetry import keep_half, mirror_weld
from backend.geometry.metrics import surface_distance, topology_stats
from backend.runtime import CancelToken, Cancelled


def cleaned(name):
    mesh = mesh_corpus.load(name)
    report = []
    return repair.clean(mesh.positions, mesh.triangulated(), report), report


def test_clean_fixes_each_known_defect():
    fin, report = cleaned("nonmanifold_fin")
    assert nonmanifold_edge_count(fin.triangles) == 0 and "1 non-manifold edges repaired" in report
    soup, report = cleaned("soup")
    cow, _ = cleaned("cow")
    assert len(soup.vertices) == len(cow.vertices) and any("welded" in line for line in report)
    flipped, report = cleaned("flipped")
    airplane, _ = cleaned("airplane")
    assert any("flipped" in line for line in report)
    directed = np.concatenate([flipped.triangles[:, [0, 1]], flipped.triangles[:, [1, 2]], flipped.triangles[:, [2, 0]]])
    assert len(np.unique(directed, axis=0)) == len(directed)  # consistent winding now
    degenerate, report = cleaned("degenerate")
    assert euler_characteristic(degenerate.triangles) == 2
    assert len(repair.split_components(cleaned("many_components")[0])) == 241


def test_triangulate_keeps_area_and_orientation_of_polygons():
    cylinder = mesh_corpus.load("cylinder")  # 32-gon caps: fanned from a centre vertex
    v, t = repair.triangulate(cylinder.positions, cylinder.face_sizes, cylinder.face_indices)
    assert len(v) == cylinder.num_vertices + 2 and len(t) == 2 * 32 + 2 * 32
    # an L-shaped (concave) hexagon: a centre fan would flip a triangle, a corner fan does not
    ell = np.array([[0, 0, 0], [2, 0, 0], [2, 1, 0], [1, 1, 0], [1, 2, 0], [0, 2, 0]], float)
    v, t = repair.triangulate(ell, np.array([6]), np.arange(6))
    assert len(v) == 6 and len(t) == 4
    area = 0.5 * np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])[:, 2]
    assert np.all(area > 0) and area.sum() == pytest.approx(3.0)


def test_pinched_vertex_is_split():
    # two triangles touching at one vertex only
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], float)
    t = np.array([[0, 1, 2], [0, 3, 4]])
    v2, t2, pinched = repair.split_pinched_vertices(v, t)
    assert pinched == 1 and len(v2) == 6 and len(np.unique(t2)) == 6


def test_pairing_makes_planar_quads_with_the_winding_kept():
    cube = mesh_corpus.load("cube")
    quads, rest = pair_triangles(cube.positions, cube.triangulated())
    assert len(quads) == 6 and len(rest) == 0
    out = payload_from_mixed(cube.positions, rest, quads)
    stats = topology_stats(out)
    assert stats.euler == 2 and stats.nonmanifold_edges == 0
    # outward winding survives: positive signed volume
    p = out.positions[out.triangulated()].astype(float)
    assert np.einsum("ij,ij->i", p[:, 0], np.cross(p[:, 1], p[:, 2])).sum() > 0
    # two triangles folded 90 degrees are not a quad
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    quads, rest = pair_triangles(v, np.array([[0, 1, 2], [1, 0, 3]]))
    assert len(quads) == 0 and len(rest) == 2


def test_split_into_quads_is_all_quads_on_the_same_surface():
    cone = mesh_corpus.load("cone")
    v, quads = split_into_quads(cone.positions, cone.triangulated(), np.zeros((0, 4), int))
    out = payload_from_mixed(v, np.zeros((0, 3), int), quads)
    stats = topology_stats(out)
    assert stats.faces == 3 * len(cone.triangulated()) and stats.quad_ratio == 1.0
    assert stats.euler == 2 and stats.nonmanifold_edges == 0 and stats.boundary_edges == 0
    assert surface_distance(out, cone, samples=5000).hausdorff < 1e-6


def test_symmetry_cut_and_mirror_weld_closes_the_seam():
    sphere, _ = cleaned("uv_sphere")
    v, t = keep_half(sphere.vertices, sphere.triangles, axis=0, plane=0.0)
    assert v[:, 0].min() >= 0.0
    v2, quads, tris, seam = mirror_weld(v, np.zeros((0, 4), int), t, axis=0, plane=0.0, snap=1e-6)
    assert seam > 0
    welded = payload_from_mixed(v2, tris, quads)
    stats = topology_stats(welded)
    assert stats.boundary_edges == 0 and stats.nonmanifold_edges == 0 and stats.euler == 2


def test_sdf_rebuild_is_closed_and_close():
    soup, _ = cleaned("bracket")
    rebuilt = sdf_remesh(soup, resolution=96)
    assert nonmanifold_edge_count(rebuilt.triangles) == 0
    assert euler_characteristic(rebuilt.triangles) == 0  # the bracket's hole survives
    out = payload_from_mixed(rebuilt.vertices, rebuilt.triangles, np.zeros((0, 4), int))
    assert surface_distance(out, mesh_corpus.load("bracket"), samples=10_000).hausdorff < 0.02


def test_child_failure_is_reported_not_raised_from_the_library():
    with pytest.raises(ChildFailure, match="quadriflow"):
        # an empty mesh makes QuadriFlow report an error (or crash): either way a ChildFailure
        call_in_child("backend.geometry.quad_engines", "quadriflow",
                      {"vertices": np.zeros((0, 3), np.float32), "triangles": np.zeros((0, 3), np.int32)},
                      {"target_faces": 100}, timeout=60)
    with pytest.raises(ValueError):
        call_in_child("os", "system", {}, {})  # only backend.geometry functions may run


def test_child_is_killed_on_cancel_within_a_second():
    bunny = mesh_corpus.load("bunny")
    token = CancelToken()
    beats = []
    started = time.monotonic()

    def progress(fraction, stage, message=""):
        beats.append(time.monotonic())
        if time.monotonic() - started > 2.0:
            token.cancel()

    with pytest.raises(Cancelled):
        call_in_child("backend.geometry.quad_engines", "quadriflow",
                      {"vertices": bunny.positions, "triangles": bunny.triangulated()}, {"target_faces": 200_000},
                      cancel=token, progress=progress)
    assert time.monotonic() - started < 4.0
    assert len(beats) >= 3  # heartbeats while the library runs
    # the killed worker is replaced: the next call works
    cube = mesh_corpus.load("cube")
    out = call_in_child("backend.geometry.quad_engines", "instant_meshes",
                        {"vertices": cube.positions, "triangles": cube.triangulated()}, {"target_faces": 96})
    assert len(out["quads"]) > 50


def test_boundary_deviation_sees_a_moved_rim():
    from backend.geometry.metrics import boundary_deviation

    grid = mesh_corpus.load("grid")
    assert boundary_deviation(grid, grid) == 0.0
    shrunk = mesh_corpus.load("grid")
    shrunk.positions[:, :2] *= 0.9  # the rim moves inward by 5% of the width
    width = float(np.ptp(grid.positions[:, 0]))
    diagonal = float(np.linalg.norm(np.ptp(grid.positions, axis=0)))
    assert np.isclose(boundary_deviation(shrunk, grid), 0.05 * width * np.sqrt(2) / diagonal, rtol=0.05)
    assert boundary_deviation(mesh_corpus.load("cube"), grid) == float("inf")
