"""The inflated field input (``quad_inflate``) and the quad pipeline's step that uses it for
closed parts that missed only the shape."""
import numpy as np
import pytest
import trimesh

import mesh_corpus
from backend.geometry import quad_remesh, repair
from backend.geometry.quad_inflate import INFLATE_SHARES, inflated
from backend.geometry.surface_distance import SurfaceQuery


def part(name):
    mesh = mesh_corpus.load(name)
    return repair.clean(mesh.positions, mesh.triangulated(), [])


def area(vertices, triangles):
    corners = vertices[triangles]
    return 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1).sum()


def test_inflating_grows_a_thin_part_more_than_a_wide_one():
    big, small = trimesh.creation.icosphere(3, radius=1.0), trimesh.creation.icosphere(3, radius=0.05)
    vertices = np.concatenate([big.vertices, small.vertices + [3.0, 0.0, 0.0]])
    triangles = np.concatenate([big.faces, small.faces + len(big.vertices)])
    moved = inflated(vertices, triangles, 0.01)
    offset = 0.01 * np.linalg.norm(vertices.max(0) - vertices.min(0))
    n = len(big.vertices)
    assert np.allclose(np.linalg.norm(moved[:n], axis=1), 1.0 + offset, atol=1e-3)  # outward, by the share
    assert np.allclose(np.linalg.norm(moved[n:] - [3.0, 0.0, 0.0], axis=1), 0.05 + offset, atol=1e-3)
    grow_big = area(moved, big.faces) / area(vertices, big.faces)
    grow_small = area(moved, small.faces + n) / area(vertices, small.faces + n)
    assert grow_small > 3 * grow_big  # the thin part's share of the area (of the quads) grows


def shape_miss(piece):
    return [(quad_remesh.Verdict(["shape error 3.0%"], (0, 0, 0.03)), piece)]


def test_a_closed_part_that_missed_only_the_shape_gets_an_inflated_piece_fitted_back():
    sphere = part("uv_sphere")
    best, why, result = {0: shape_miss(None)}, {}, [None]
    quad_remesh._inflated_tries([sphere], [300], [0], best, why, result, quad_remesh.Options(), lambda *a, **k: None)
    piece = result[0]
    assert piece is not None and piece.method == f"quadriflow inflated {INFLATE_SHARES[0]:.1%}"
    assert piece.polished and max(piece.error) <= quad_remesh.SHAPE_LIMIT
    diagonal = np.linalg.norm(sphere.vertices.max(0) - sphere.vertices.min(0))
    on_surface = SurfaceQuery(sphere.vertices, sphere.triangles).distance(piece.vertices)
    assert np.median(on_surface) < 1e-3 * diagonal  # on the part, not on its offset


def test_open_parts_and_other_misses_are_not_inflated(monkeypatch):
    def engine(*args, **kwargs):
        raise AssertionError("no remesh expected")
    monkeypatch.setattr(quad_remesh, "_run_engine", engine)
    grid, sphere = part("grid"), part("uv_sphere")
    count_miss = [(quad_remesh.Verdict(["face count 100 vs 300"], (0, 1, 0.03)), None)]
    best, result = {0: shape_miss(None), 1: count_miss}, [None, None]
    quad_remesh._inflated_tries([grid, sphere], [300, 300], [0, 1], best, {}, result, quad_remesh.Options(),
                                lambda *a, **k: None)
    assert result == [None, None]


@pytest.mark.slow
def test_the_cows_horns_come_within_the_shape_limit():
    cow = part("cow")
    report = []
    piece = quad_remesh.remesh_quads([cow], [2000], report=report)[0]
    assert max(piece.error) <= quad_remesh.SHAPE_LIMIT, report
    assert abs(piece.faces - 2000) <= quad_remesh.COUNT_TOLERANCE * 2000
    assert quad_remesh._quad_euler(piece.quads) == 2
