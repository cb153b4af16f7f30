"""Every add-on op operator against the real backend ops, headless, asserting on the scene."""
from __future__ import annotations

import numpy as np
import pytest

from addon_helpers import blender
from addon_helpers.backend import shared_backend
from addon_helpers.blender import bpy

pytestmark = pytest.mark.blender


@pytest.fixture()
def backend():
    return shared_backend()


@pytest.fixture()
def prefs(backend):
    return blender.fresh(backend.address, timeout=10.0)


def two_boxes():
    """One object made of two separate boxes, moved and rotated, with a bevel modifier."""
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0, 0, 0))
    first = bpy.context.active_object
    bpy.ops.mesh.primitive_cube_add(size=0.5, location=(2, 0, 0))
    first.select_set(True)
    bpy.context.view_layer.objects.active = first
    bpy.ops.object.join()
    obj = bpy.context.active_object
    obj.name = "Boxes"
    obj.location = (0, 3, 1)
    obj.rotation_euler = (0, 0, 0.5)
    bevel = obj.modifiers.new("bevel", "BEVEL")
    bevel.width = 0.05
    assert len(bpy.data.objects) == 1
    return obj


def test_split_parts_makes_named_objects_under_one_parent(prefs):
    source = two_boxes()
    evaluated_faces = len(source.evaluated_get(bpy.context.evaluated_depsgraph_get()).data.polygons)
    assert bpy.ops.kiln.split_parts(auto_parts=True, method="components", keep_original=False,
                                    wait=True) == {"FINISHED"}
    parent = bpy.data.objects["Boxes_parts"]
    children = sorted(parent.children, key=lambda o: len(o.data.vertices))
    assert parent.type == "EMPTY" and len(children) == 2
    assert all(c.type == "MESH" and c.name and c.data.polygons for c in children)
    assert len({c.name for c in children}) == 2
    assert sum(len(c.data.polygons) for c in children) >= evaluated_faces, "modifiers were applied before sending"
    assert parent.matrix_world == source.matrix_world, "the result keeps the source's transform"
    assert source.hide_get() and source.name in bpy.data.objects, "keep original off hides, never deletes"
    assert bpy.context.view_layer.objects.active == parent and all(c.select_get() for c in children)


def test_split_parts_with_a_count_keeps_the_original_visible(prefs):
    source = two_boxes()
    assert bpy.ops.kiln.split_parts(auto_parts=False, num_parts=2, method="components", wait=True) == {"FINISHED"}
    assert len(bpy.data.objects["Boxes_parts"].children) == 2
    assert not source.hide_get()


def test_split_parts_needs_a_mesh(prefs):
    with pytest.raises(RuntimeError, match="Select a mesh object"):
        bpy.ops.kiln.split_parts(wait=True)


def test_texture_adds_uvs_and_packed_pbr_images(prefs):
    bpy.ops.mesh.primitive_uv_sphere_add(segments=16, ring_count=8, location=(1, 1, 0))
    source = bpy.context.active_object
    photo = bpy.data.images.new("top_photo", 32, 32, alpha=True)
    photo.pixels.foreach_set(np.tile([0.9, 0.1, 0.1, 1.0], 32 * 32).astype(np.float32))
    assert bpy.ops.kiln.texture(prompt="weathered oak", image=photo.name, view="TOP", resolution=128, pbr=True,
                                keep_original=False, wait=True) == {"FINISHED"}
    obj = bpy.data.objects["Sphere_textured"]
    assert obj.data.uv_layers.active is not None
    assert tuple(obj.location) == pytest.approx((1, 1, 0))
    mat = obj.data.materials[0]
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    color = bsdf.inputs["Base Color"].links[0].from_node.image
    assert tuple(color.size) == (128, 128) and color.packed_file is not None
    assert bsdf.inputs["Roughness"].is_linked and bsdf.inputs["Metallic"].is_linked
    pixels = np.empty(128 * 128 * 4, np.float32)
    color.pixels.foreach_get(pixels)
    assert pixels.reshape(-1, 4)[:, :3].std() > 0.01, "the base colour is an actual texture, not a flat fill"
    assert source.hide_get() and obj.select_get()


def test_a_failed_texture_job_leaves_the_scene_as_it_was(prefs):
    bpy.ops.mesh.primitive_cube_add(size=1.0)
    source = bpy.context.active_object
    before = [sorted(collection.keys()) for collection in (bpy.data.objects, bpy.data.materials, bpy.data.images,
                                                            bpy.data.meshes)]
    with pytest.raises(RuntimeError, match="prompt"):
        bpy.ops.kiln.texture(prompt="", resolution=64, keep_original=False, wait=True)
    after = [sorted(collection.keys()) for collection in (bpy.data.objects, bpy.data.materials, bpy.data.images,
                                                           bpy.data.meshes)]
    assert after == before and not source.hide_get()


def test_retopo_makes_quads_near_the_target_and_keeps_the_transform(prefs):
    bpy.ops.mesh.primitive_uv_sphere_add(segments=48, ring_count=24, location=(0, 0, 2), rotation=(0.3, 0, 0))
    source = bpy.context.active_object
    source.modifiers.new("subd", "SUBSURF").levels = 1
    assert bpy.ops.kiln.retopo(target_faces=400, mode="quad", preserve_sharp=False, symmetry="NONE",
                               keep_original=False, wait=True) == {"FINISHED"}
    obj = bpy.data.objects["Sphere_retopo"]
    sizes = [len(p.vertices) for p in obj.data.polygons]
    assert 300 <= len(sizes) <= 500, len(sizes)
    assert sizes.count(4) / len(sizes) > 0.9, "quad mode gives (almost) all quads"
    assert obj.matrix_world == source.matrix_world
    assert source.hide_get() and bpy.context.view_layer.objects.active == obj


@pytest.mark.slow  # the first procedural generate loads the prompt encoder: ~30 s on a busy 2-core box
def test_generate_with_the_procedural_model_lands_at_the_cursor(prefs):
    bpy.context.scene.cursor.location = (4, 0, 0)
    bpy.ops.kiln.connect(wait=True)
    choices = blender.kiln().session.get().param_spec("generate", "model")["choices"]
    assert "procedural" in choices
    bpy.context.scene.kiln.model = "procedural"  # the panel's model list is the server's choices
    assert bpy.ops.kiln.generate(prompt="a wooden chair", seed=3, quality="DRAFT", wait=True) == {"FINISHED"}
    top = bpy.context.view_layer.objects.active
    assert top.name == "wooden_chair" and top.select_get()
    assert tuple(top.location) == pytest.approx((4, 0, 0))
    meshes = [top] if top.type == "MESH" else list(top.children)
    assert meshes and all(m.type == "MESH" and len(m.data.polygons) > 0 for m in meshes)
    assert all(m.data.materials for m in meshes), "procedural props come with materials"
    report = next(iter(blender.kiln().session.get().jobs))
    assert report.state == "done" and report.summary.startswith("chair, procedural, ") and not report.warning


@pytest.mark.slow  # loads the prompt encoder in the backend (~30 s on a busy 2-core box) unless warm
def test_generate_auto_says_what_it_made_and_warns_when_nothing_matched(prefs, capfd):
    bpy.ops.kiln.connect(wait=True)
    assert "auto" in blender.kiln().session.get().param_spec("generate", "model")["choices"]
    assert bpy.ops.kiln.generate(prompt="a bar stool", seed=1, wait=True) == {"FINISHED"}
    record = next(iter(blender.kiln().session.get().jobs))
    assert record.summary.startswith("stool, procedural, ") and record.summary.endswith("%")
    assert f"({record.summary})" in record.message and not record.warning
    assert bpy.ops.kiln.generate(prompt="a dragon", model="procedural", wait=True) == {"FINISHED"}
    record = next(iter(blender.kiln().session.get().jobs))
    assert record.warning.startswith("no category is close to 'a dragon'; nearest: ")
    assert record.warning in capfd.readouterr().out
