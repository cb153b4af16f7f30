"""Building blocks of the parts op: mIoU with Hungarian matching, graph cut, isolation, SDF."""
from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest
import trimesh

from backend.geometry.graph_cut import alpha_expansion, potts_energy
from backend.geometry.isolated import IsolatedFailure, run_isolated
from backend.geometry.mesh_graph import face_graph
from backend.geometry.segmentation_metrics import iou_matrix, matched_miou
from backend.geometry.shape_diameter import shape_diameter


def test_miou_ignores_label_permutation():
    truth = np.array([0, 0, 1, 1, 2, 2])
    assert matched_miou(np.array([2, 2, 0, 0, 1, 1]), truth) == 1.0


def test_miou_known_value_and_penalties():
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    predicted = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    # part 0: 3/4, part 1: 4/5
    assert matched_miou(predicted, truth) == pytest.approx((0.75 + 0.8) / 2)
    assert matched_miou(np.zeros(8, dtype=int), truth) == pytest.approx(0.5 / 2)  # one part missed
    over = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    assert matched_miou(over, truth) == pytest.approx(1.0 / 4)  # two extra parts count as 0


def test_miou_uses_optimal_not_greedy_matching():
    # Greedy would give predicted 0 to truth 0 (IoU 0.5) and leave predicted 1 a poor match.
    truth = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    ious = iou_matrix(predicted, truth)
    assert ious[0, 0] == pytest.approx(4 / 6)
    assert matched_miou(predicted, truth) == pytest.approx((4 / 6 + 1.0 + 0.0) / 3)


def test_miou_area_weights():
    truth = np.array([0, 1])
    predicted = np.array([0, 0])
    assert matched_miou(predicted, truth, weights=np.array([9.0, 1.0])) == pytest.approx(0.9 / 2)


def test_alpha_expansion_reaches_the_optimum_on_small_problems():
    rng = np.random.default_rng(1)
    pairs = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [0, 5], [1, 4]])
    for _ in range(5):
        unary = rng.random((6, 3)) * 4
        weights = rng.random(len(pairs)) * 2
        best = min(potts_energy(np.array(l), unary, pairs, weights) for l in itertools.product(range(3), repeat=6))
        got = potts_energy(alpha_expansion(unary, pairs, weights), unary, pairs, weights)
        assert got <= 2 * best + 1e-6  # the expansion-move guarantee for Potts
        assert got <= best * 1.05 + 0.01  # in practice it is (near) optimal


def test_alpha_expansion_smooths_noise_along_a_chain():
    labels_true = np.repeat([0, 1], 20)
    unary = np.where(np.arange(2)[None, :] == labels_true[:, None], 0.0, 1.0)
    unary[[5, 25]] = unary[[5, 25]][:, ::-1]  # two flipped observations
    pairs = np.stack([np.arange(39), np.arange(1, 40)], axis=1)
    labels = alpha_expansion(unary, pairs, np.full(39, 1.5))
    np.testing.assert_array_equal(labels, labels_true)


def test_shape_diameter_measures_thickness():
    slab = trimesh.creation.box([2.0, 2.0, 0.1])
    sdf = shape_diameter(slab.vertices, slab.faces, slab.face_normals)
    big = np.abs(slab.face_normals[:, 2]) > 0.9
    assert np.median(sdf[big]) == pytest.approx(0.1, rel=0.1)  # top/bottom see the thin direction


def test_face_graph_marks_concave_creases():
    outer = trimesh.creation.box([1, 1, 1])
    notch = trimesh.creation.box([0.5, 0.5, 0.5])
    notch.apply_translation([0.25, 0.25, 0.25])
    shape = trimesh.boolean.difference([outer, notch], engine="manifold")
    graph = face_graph(np.asarray(shape.vertices), np.asarray(shape.faces))
    creases = graph.angle > np.radians(45)
    assert graph.concave[creases].any() and (~graph.concave[creases]).any()


def test_isolated_child_errors_become_failures():
    with pytest.raises(IsolatedFailure, match="exit code"):
        run_isolated("backend.geometry.convex_worker", {}, {"threshold": 0.1, "max_hulls": -1})


def test_isolated_child_segfault_does_not_kill_us(tmp_path, monkeypatch):
    (tmp_path / "kiln_crash_worker.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    if sys.platform == "win32":
        pytest.skip("POSIX signals")
    with pytest.raises(IsolatedFailure, match="signal"):
        run_isolated("kiln_crash_worker", {"x": np.zeros(3)}, {})


def test_spectrum_falls_back_when_arpack_does_not_converge(monkeypatch):
    from scipy.sparse.linalg import ArpackNoConvergence

    from backend.geometry import segmentation

    sphere = trimesh.creation.icosphere(subdivisions=2)
    graph = face_graph(np.asarray(sphere.vertices), np.asarray(sphere.faces))
    expected, _ = segmentation.spectral_embedding(graph, 5)

    def fails(*args, **kwargs):
        raise ArpackNoConvergence("no convergence", np.zeros(0), np.zeros((0, 0)))

    monkeypatch.setattr(segmentation, "eigsh", fails)
    values, vectors = segmentation.spectral_embedding(graph, 5)
    np.testing.assert_allclose(values, expected, atol=1e-6)
    assert vectors.shape == (graph.num_faces, 5)


def test_part_names_from_shape_and_position():
    from backend.geometry.part_naming import describe_parts, name_parts

    boxes = {"top": ([1.2, 0.8, 0.08], [0, 0, 0.74]), "leg": ([0.08, 0.08, 0.72], [0.5, 0.3, 0.36]),
             "leg2": ([0.08, 0.08, 0.72], [-0.5, 0.3, 0.36]), "side": ([0.04, 0.8, 0.7], [0.62, 0, 0.4]),
             "pole": ([0.04, 0.04, 0.5], [0, 0, 0.4])}
    meshes = []
    for name, (size, center) in boxes.items():
        box = trimesh.creation.box(size)
        box.apply_translation(center)
        meshes.append(box)
    whole = trimesh.util.concatenate(meshes)
    labels = np.repeat(np.arange(len(meshes)), [len(m.faces) for m in meshes])
    names = name_parts(describe_parts(np.asarray(whole.vertices), np.asarray(whole.faces), labels, len(meshes)))
    assert names[0] == "top"
    assert {names[1], names[2]} == {"leg_1", "leg_2"}
    assert names[3] == "side" and names[4] == "pole"


def test_proxy_of_long_thin_faces_subdivides_without_failing():
    """A procedural bench's planks: 6 rounds of trimesh's edge splitting cannot reach the target,
    so the proxy coarsens its target instead of raising 'max_iter exceeded'."""
    from backend.geometry.segmentation import make_proxy
    from backend.procedural.registry import generate

    plank = generate("bench", 0).artist_mesh()
    positions, triangles, origin = make_proxy(plank.positions.astype(float), plank.triangulated().astype(int), 8000)
    assert len(triangles) > len(plank.triangulated()) and origin is not None and len(origin) == len(triangles)
