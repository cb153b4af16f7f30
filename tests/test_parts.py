"""The parts op on single connected meshes, many components, real and broken meshes."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from backend.geometry.segmentation_metrics import matched_miou
from backend.ops import parts
from backend.runtime import CancelToken, Cancelled, OpError
from shared.payload import MeshPayload
from tests import mesh_corpus


def _box(size, center) -> trimesh.Trimesh:
    box = trimesh.creation.box(size)
    box.apply_translation(center)
    return box


def table_pieces() -> list[trimesh.Trimesh]:
    """A table top and four legs that overlap it slightly (so a union is one piece)."""
    top = _box([1.2, 0.8, 0.08], [0, 0, 0.74])
    legs = [_box([0.08, 0.08, 0.72], [sx * 0.5, sy * 0.3, 0.36]) for sx in (-1, 1) for sy in (-1, 1)]
    return [top] + legs


def chair_pieces() -> list[trimesh.Trimesh]:
    seat = _box([0.5, 0.5, 0.06], [0, 0, 0.45])
    back = _box([0.5, 0.06, 0.5], [0, 0.22, 0.73])
    legs = [_box([0.05, 0.05, 0.45], [sx * 0.2, sy * 0.2, 0.23]) for sx in (-1, 1) for sy in (-1, 1)]
    return [seat, back] + legs


def union_with_truth(pieces: list[trimesh.Trimesh]) -> tuple[MeshPayload, np.ndarray, np.ndarray]:
    """One connected mesh (boolean union via manifold3d), per-face true piece and face areas."""
    mesh = trimesh.boolean.union(pieces, engine="manifold")
    centers = mesh.triangles_center
    distance = np.stack([np.abs(trimesh.proximity.signed_distance(p, centers)) for p in pieces], axis=1)
    return MeshPayload.from_triangles(mesh.vertices, mesh.faces), distance.argmin(axis=1), mesh.area_faces


def run_parts(mesh: MeshPayload, progress=None, cancel=None, **params) -> MeshPayload:
    params = {"num_parts": 0, "method": "geometric", "from_job": "", "merge": "", **params}
    events = []
    out = parts.run({"mesh": mesh}, params, progress or (lambda f, s, m="": events.append(f)),
                    cancel or CancelToken())["mesh"]
    out.validate("mesh")
    assert len(out.part_names) == len(set(out.part_names)) == int(out.part_ids.max()) + 1
    return out


def test_one_connected_table_splits_into_top_and_four_legs():
    mesh, truth, areas = union_with_truth(table_pieces())
    out = run_parts(mesh)
    assert sorted(out.part_names) == ["leg_1", "leg_2", "leg_3", "leg_4", "top"]
    assert matched_miou(out.part_ids, truth, areas) > 0.95
    assert "split into 5" in out.info["parts"]["report"]


@pytest.mark.parametrize("method", ["geometric", "sdf"])
def test_chair_with_requested_count_matches_truth(method):
    mesh, truth, areas = union_with_truth(chair_pieces())
    out = run_parts(mesh, num_parts=6, method=method)
    assert len(out.part_names) == 6
    assert matched_miou(out.part_ids, truth, areas) > 0.9
    assert sum(name.startswith("leg_") for name in out.part_names) == 4


@pytest.mark.parametrize("method", ["sdf", "creases"])
def test_table_by_each_engine(method):
    mesh, truth, areas = union_with_truth(table_pieces())
    out = run_parts(mesh, method=method)
    assert matched_miou(out.part_ids, truth, areas) > 0.95


def test_convex_method_on_table():
    mesh, truth, areas = union_with_truth(table_pieces())
    out = run_parts(mesh, method="convex")
    assert matched_miou(out.part_ids, truth, areas) > 0.9
    assert "CoACD" in out.info["parts"]["report"]


def test_organic_mesh_splits_by_thickness():
    mesh = mesh_corpus.load("cow")  # smooth: no creases, but thin legs/head vs a thick body
    out = run_parts(mesh)
    tri_area = np.linalg.norm(np.cross(*np.swapaxes(
        mesh.positions[mesh.triangulated()][:, 1:] - mesh.positions[mesh.triangulated()][:, :1], 0, 1)), axis=1)
    share = np.bincount(out.part_ids[mesh.triangle_face_ids()], weights=tri_area) / tri_area.sum()
    assert len(out.part_names) >= 5
    assert 0.3 < share.max() < 0.8  # a body, with several smaller parts around it


def test_smooth_sphere_stays_one_part():
    out = run_parts(mesh_corpus.load("uv_sphere"))
    assert out.part_names == ["body"]
    assert (out.part_ids == 0).all()


def test_separate_pieces_become_parts_exactly():
    pieces = table_pieces()
    mesh = trimesh.util.concatenate(pieces)
    truth = np.repeat(np.arange(len(pieces)), [len(p.faces) for p in pieces])
    out = run_parts(MeshPayload.from_triangles(mesh.vertices, mesh.faces), method="components")
    assert matched_miou(out.part_ids, truth) == 1.0
    assert "top" in out.part_names


def test_many_components_grouped_to_requested_count():
    out = run_parts(mesh_corpus.load("many_components"), num_parts=3)
    assert len(out.part_names) == 3


def test_auto_absorbs_debris():
    mesh = mesh_corpus.load("many_components")
    out = run_parts(mesh)
    assert len(out.part_names) <= 12
    # the torus (largest area) is one part of its own or shares it only with what touches it
    assert "body" in out.part_names


def test_asking_more_components_than_exist_says_so():
    out = run_parts(mesh_corpus.load("cube"), method="components", num_parts=4)
    assert out.part_names == ["body"]
    assert "use method sdf or convex" in out.info["parts"]["report"]


def test_polygon_faces_get_one_id_each():
    mesh = mesh_corpus.load("cylinder")  # quads + two 32-gons
    out = run_parts(mesh, method="sdf", num_parts=3)
    assert out.part_ids.shape == (mesh.num_faces,)
    assert len(out.part_names) == 3
    np.testing.assert_array_equal(out.face_sizes, mesh.face_sizes)


def test_materials_and_uvs_are_kept():
    mesh = mesh_corpus.load("cube")
    mesh.corner_uvs = np.random.default_rng(0).random((len(mesh.face_indices), 2)).astype(np.float32)
    out = run_parts(mesh)
    np.testing.assert_array_equal(out.corner_uvs, mesh.corner_uvs)


@pytest.mark.parametrize("name", ["bunny", "cow", "airplane", "bone", "scan_bunny", "planar", "torus", "bracket",
                                  "nonmanifold_fin", "holes", "degenerate", "soup", "flipped", "grid"])
def test_real_and_broken_meshes_always_succeed(name):
    out = run_parts(mesh_corpus.load(name))
    assert 1 <= len(out.part_names) <= parts.MAX_PARTS


@pytest.mark.slow
def test_million_face_mesh():
    mesh = mesh_corpus.load("large")
    out = run_parts(mesh, num_parts=4)
    assert len(out.part_names) == 4 and out.part_ids.shape == (mesh.num_faces,)


def test_progress_is_reported_and_monotonic():
    mesh, _, _ = union_with_truth(table_pieces())
    seen = []
    run_parts(mesh, progress=lambda f, s, m="": seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert all(b >= a for a, b in zip(seen, seen[1:]))


def test_cancel_stops_segmentation_midway():
    mesh, _, _ = union_with_truth(table_pieces())
    token = CancelToken()
    stages = []

    def progress(fraction, stage, message=""):
        stages.append(stage)
        if stage == "segmenting":
            token.cancel()

    with pytest.raises(Cancelled):
        parts.run({"mesh": mesh}, {"num_parts": 0, "method": "geometric"}, progress, token)
    assert "naming parts" not in stages


def test_cancel_kills_the_convex_child_process():
    mesh, _, _ = union_with_truth(table_pieces())
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        parts.run({"mesh": mesh}, {"num_parts": 0, "method": "convex"}, lambda *a: None, token)


@pytest.mark.parametrize("bad", [
    {},
    {"mesh": MeshPayload.from_triangles(np.zeros((0, 3)), np.zeros((0, 3)))},
    {"mesh": MeshPayload.from_triangles([[0, 0, 0], [1, 0, 0], [np.nan, 1, 0]], [[0, 1, 2]])},
    {"mesh": MeshPayload.from_triangles([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 7]])},
])
def test_bad_input_is_a_clear_error(bad):
    with pytest.raises(OpError):
        parts.run(bad, {"num_parts": 0, "method": "auto"}, lambda *a: None, CancelToken())


def test_schema_matches_contract():
    names = {p.name: p for p in parts.params_schema()}
    assert names["method"].choices == ["auto", "model", "geometric", "components", "creases", "sdf", "convex"]
    assert parts.RESOURCE == "cpu" and parts.available()[0]


def test_zero_area_mesh_still_gets_a_part():
    line = MeshPayload.from_triangles([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], [[0, 1, 2], [1, 2, 3]])
    out = run_parts(line)
    assert out.part_names == ["body"]
