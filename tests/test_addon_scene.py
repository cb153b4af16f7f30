"""scene.py in real Blender: payload -> objects/materials/images and evaluated object -> payload."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addon_helpers import blender
from addon_helpers.blender import bpy

pytestmark = pytest.mark.blender


@pytest.fixture()
def scene_mod():
    blender.fresh()
    return blender.kiln().scene


def _payload_mod():
    return blender.kiln().shared.payload


def mixed_mesh(with_parts: bool = False):
    """A quad, a triangle and a pentagon sharing vertices, with UVs (and optionally two parts)."""
    payload = _payload_mod()
    pos = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0], [3, 0, 0], [3.5, 1, 0], [3, 2, 0],
                    [2, 2, 0]], np.float32)
    sizes = np.array([4, 3, 5], np.int32)
    idx = np.array([0, 1, 2, 3, 1, 4, 2, 4, 5, 6, 7, 8], np.int32)
    uvs = np.random.default_rng(0).random((12, 2)).astype(np.float32)
    extra = {}
    if with_parts:
        extra = dict(part_ids=np.array([0, 0, 1], np.int32), part_names=["seat", "leg"], part_materials=[0, 1],
                     materials=[payload.Material("wood", (0.5, 0.3, 0.1, 1.0), 0.7, 0.0),
                                payload.Material("steel", (0.8, 0.8, 0.8, 1.0), 0.2, 1.0)])
    return payload.MeshPayload(pos, sizes, idx, corner_uvs=uvs, **extra)


def test_polygons_and_uvs_survive_a_round_trip(scene_mod):
    mesh = mixed_mesh()
    objs = scene_mod.objects_from_payload(mesh, "shape", bpy.context.scene.collection)
    assert [o.name for o in objs] == ["shape"]
    data = objs[0].data
    assert [len(p.vertices) for p in data.polygons] == [4, 3, 5]
    assert len(data.vertices) == 9 and len(data.edges) == 11
    back = scene_mod.payload_from_object(objs[0], bpy.context.evaluated_depsgraph_get())
    np.testing.assert_array_equal(back.face_sizes, mesh.face_sizes)
    np.testing.assert_array_equal(back.face_indices, mesh.face_indices)
    np.testing.assert_allclose(back.positions, mesh.positions)
    np.testing.assert_allclose(back.corner_uvs, mesh.corner_uvs, atol=1e-6)
    assert not data.validate(), "Blender had to repair the mesh we wrote"


def test_parts_become_named_children_with_their_materials(scene_mod):
    objs = scene_mod.objects_from_payload(mixed_mesh(with_parts=True), "chair", bpy.context.scene.collection)
    parent, seat, leg = objs
    assert parent.type == "EMPTY" and parent.name == "chair"
    assert (seat.name, leg.name) == ("seat", "leg")
    assert seat.parent == parent and leg.parent == parent
    assert [len(p.vertices) for p in seat.data.polygons] == [4, 3]
    assert [len(p.vertices) for p in leg.data.polygons] == [5]
    assert len(leg.data.vertices) == 5, "a part keeps only the vertices it uses"
    assert seat.data.materials[0].name == "chair_wood" and leg.data.materials[0].name == "chair_steel"
    bsdf = next(n for n in leg.data.materials[0].node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert bsdf.inputs["Metallic"].default_value == pytest.approx(1.0)
    assert bsdf.inputs["Roughness"].default_value == pytest.approx(0.2)


def test_textures_are_wired_packed_and_saved_in_the_blend(scene_mod, tmp_path):
    payload = _payload_mod()
    rng = np.random.default_rng(1)
    color = rng.integers(0, 256, (8, 16, 4), dtype=np.uint8)
    rough = rng.integers(0, 256, (8, 16, 4), dtype=np.uint8)
    mesh = mixed_mesh()
    mesh.materials = [payload.Material("paint")]
    mesh.textures = {"base_color": color, "roughness": rough, "normal": rough}
    obj = scene_mod.objects_from_payload(mesh, "box", bpy.context.scene.collection)[0]
    mat = obj.data.materials[0]
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert bsdf.inputs["Base Color"].links[0].from_node.image.name == "box_paint_base_color"
    assert bsdf.inputs["Roughness"].links[0].from_node.image.colorspace_settings.name == "Non-Color"
    assert bsdf.inputs["Normal"].links[0].from_node.type == "NORMAL_MAP"
    path = tmp_path / "packed.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    image = bpy.data.images["box_paint_base_color"]
    assert image.packed_file is not None
    back = blender.kiln().scene.image_payload(image)
    np.testing.assert_array_equal(back.pixels, color)


def test_evaluated_object_applies_modifiers_in_local_space(scene_mod):
    mesh = mixed_mesh()
    obj = scene_mod.objects_from_payload(mesh, "sub", bpy.context.scene.collection)[0]
    obj.location = (5, 0, 0)
    obj.modifiers.new("subd", "SUBSURF").levels = 1
    back = scene_mod.payload_from_object(obj, bpy.context.evaluated_depsgraph_get())
    assert back.num_faces == 4 + 3 + 5, "one subdivision level turns an n-gon into n quads"
    assert set(back.face_sizes.tolist()) == {4}
    assert back.positions[:, 0].max() < 4.0, "positions stay in object space; the transform is kept separately"


def test_bad_inputs_raise_clear_errors(scene_mod):
    empty = bpy.data.objects.new("empty", None)
    bpy.context.scene.collection.objects.link(empty)
    with pytest.raises(scene_mod.SceneError, match="mesh object"):
        scene_mod.payload_from_object(empty, bpy.context.evaluated_depsgraph_get())
    no_faces = bpy.data.objects.new("pts", bpy.data.meshes.new("pts"))
    bpy.context.scene.collection.objects.link(no_faces)
    with pytest.raises(scene_mod.SceneError, match="no faces"):
        scene_mod.payload_from_object(no_faces, bpy.context.evaluated_depsgraph_get())
    blank = bpy.data.images.new("missing", 4, 4)
    blank.source = "FILE"
    blank.filepath = "/nonexistent/kiln/missing.png"
    blank.reload()
    with pytest.raises(scene_mod.SceneError, match="no pixels"):
        scene_mod.image_payload(blank)


def test_a_failure_half_way_leaves_nothing_behind(scene_mod, monkeypatch):
    before = {k: len(getattr(bpy.data, k)) for k in ("objects", "meshes", "materials", "images")}
    real = scene_mod.mesh_from_arrays
    calls = []

    def second_part_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(scene_mod, "mesh_from_arrays", second_part_fails)
    mesh = mixed_mesh(with_parts=True)
    mesh.textures = {"base_color": np.zeros((4, 4, 4), np.uint8)}
    with pytest.raises(RuntimeError, match="disk full"):
        scene_mod.objects_from_payload(mesh, "chair", bpy.context.scene.collection)
    after = {k: len(getattr(bpy.data, k)) for k in before}
    assert after == before


def test_invalid_payload_is_rejected_before_touching_blender(scene_mod):
    mesh = mixed_mesh()
    mesh.face_indices = mesh.face_indices.copy()
    mesh.face_indices[0] = 99
    with pytest.raises(blender.kiln().shared.protocol.ProtocolError, match="out of range"):
        scene_mod.objects_from_payload(mesh, "bad", bpy.context.scene.collection)
    assert len(bpy.data.meshes) == 0


@st.composite
def polygon_meshes(draw):
    """Random polygon meshes: 3-7 distinct corners per face, optional UVs and parts."""
    num_vertices = draw(st.integers(3, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    sizes = rng.integers(3, min(7, num_vertices) + 1, draw(st.integers(1, 30))).astype(np.int32)
    faces = [rng.choice(num_vertices, size, replace=False) for size in sizes]
    positions = rng.normal(size=(num_vertices, 3)).astype(np.float32)
    payload = _payload_mod()
    mesh = payload.MeshPayload(positions, sizes, np.concatenate(faces).astype(np.int32))
    if draw(st.booleans()):
        mesh.corner_uvs = rng.random((len(mesh.face_indices), 2)).astype(np.float32)
    if draw(st.booleans()):
        parts = draw(st.integers(1, 4))
        mesh.part_ids = rng.integers(0, parts, len(sizes)).astype(np.int32)
        mesh.part_names = [f"p{i}" for i in range(parts)]
    return mesh


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mesh=polygon_meshes())
def test_any_polygon_mesh_round_trips_exactly(scene_mod, mesh):
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    objs = scene_mod.objects_from_payload(mesh, "rt", bpy.context.scene.collection)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    pieces = objs[1:] if mesh.part_ids is not None else objs
    face_order = np.argsort(mesh.part_ids, kind="stable") if mesh.part_ids is not None else np.arange(mesh.num_faces)
    offsets = mesh.face_offsets()
    expected = [mesh.positions[mesh.face_indices[offsets[f]:offsets[f + 1]]] for f in face_order]
    expected_uv = ([mesh.corner_uvs[offsets[f]:offsets[f + 1]] for f in face_order]
                   if mesh.corner_uvs is not None else None)
    got, got_uv = [], []
    for obj in pieces:
        back = scene_mod.payload_from_object(obj, depsgraph)
        starts = back.face_offsets()
        got += [back.positions[back.face_indices[starts[f]:starts[f + 1]]] for f in range(back.num_faces)]
        if back.corner_uvs is not None:
            got_uv += [back.corner_uvs[starts[f]:starts[f + 1]] for f in range(back.num_faces)]
    assert len(got) == mesh.num_faces
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    if expected_uv is not None:
        for a, b in zip(got_uv, expected_uv):
            np.testing.assert_allclose(a, b, atol=1e-6)
