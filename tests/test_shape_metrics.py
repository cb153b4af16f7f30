"""Surface metrics behind `eval vae`, the reconstruction frame handling, and polygon triangulation."""
import numpy as np
import pytest
import trimesh

from backend.models.shape_reconstruct import triangles_of
from backend.train.shape_metrics import compare_surfaces, unit_cube_transform
from shared.payload import MeshPayload


def test_identical_surfaces_score_perfectly():
    mesh = trimesh.creation.icosphere(4)
    scores = compare_surfaces(mesh.vertices, mesh.faces, mesh.vertices, mesh.faces, count=8000)
    assert scores.fscore > 0.99 and scores.normal_consistency > 0.99
    assert scores.chamfer < 0.01


def test_scores_degrade_with_error_and_ignore_the_reference_scale():
    sphere = trimesh.creation.icosphere(4)
    box = trimesh.creation.box((1.6, 1.6, 1.6))
    near = compare_surfaces(sphere.vertices * 1.01, sphere.faces, sphere.vertices, sphere.faces, count=8000)
    far = compare_surfaces(box.vertices, box.faces, sphere.vertices, sphere.faces, count=8000)
    assert far.fscore < near.fscore and far.chamfer > near.chamfer
    assert far.normal_consistency < near.normal_consistency
    big = compare_surfaces(box.vertices * 10, box.faces, sphere.vertices * 10, sphere.faces, count=8000)
    assert big.fscore == pytest.approx(far.fscore, abs=0.02)
    assert big.chamfer == pytest.approx(far.chamfer, rel=0.05)


def test_fscore_threshold_is_in_unit_cube_units():
    """A shift of 1% of the extent (0.02 in [-1,1] units) sits right at tau = 0.02."""
    sphere = trimesh.creation.icosphere(4)
    shifted = sphere.vertices + np.array([0.01 * 2, 0, 0])  # 0.02 of a 2-wide shape = 0.02 units
    loose = compare_surfaces(shifted, sphere.faces, sphere.vertices, sphere.faces, tau=0.05, count=8000)
    tight = compare_surfaces(shifted, sphere.faces, sphere.vertices, sphere.faces, tau=0.005, count=8000)
    assert loose.fscore > 0.95 and tight.fscore < 0.6


def test_unit_cube_transform_rejects_degenerate_meshes():
    centre, scale = unit_cube_transform(np.array([[0, 0, 0], [2, 1, 1.0]]))
    assert scale == pytest.approx(1.0) and np.allclose(centre, [1, 0.5, 0.5])
    with pytest.raises(ValueError, match="degenerate"):
        unit_cube_transform(np.zeros((3, 3)))


def test_triangles_of_fans_polygons():
    mesh = MeshPayload(positions=np.zeros((6, 3), np.float32), face_sizes=np.array([4, 3], np.int32),
                       face_indices=np.array([0, 1, 2, 3, 3, 4, 5], np.int32))
    _, tris = triangles_of(mesh)
    assert sorted(map(tuple, tris)) == [(0, 1, 2), (0, 2, 3), (3, 4, 5)]
