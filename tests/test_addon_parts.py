"""The Parts panel after a split, headless against a real backend: parts listed by name, rename,
merge, fewer/more from the server's kept features, objects or vertex groups."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch

from addon_helpers import blender
from addon_helpers.backend import Backend
from addon_helpers.blender import bpy

pytestmark = pytest.mark.blender


@pytest.fixture(scope="module")
def backend():
    """A backend with a small part model in its models folder (the shipped one wins when present)."""
    from backend.models.checkpoint import save_checkpoint
    from backend.models.parts_net import PartsNet, PartsNetConfig

    models = Path(tempfile.mkdtemp(prefix="kiln-parts-models-"))
    torch.manual_seed(0)
    config = PartsNetConfig(widths=(16, 16, 16, 16), global_width=16, head_width=16, feature_dim=8,
                            vocabulary=["part", "leg", "top"])
    save_checkpoint(models / "tiny-parts", {f"model.{k}": v for k, v in PartsNet(config).state_dict().items()},
                    {"format": "kiln-parts", "model": config.to_json()})
    server = Backend(Path(tempfile.mkdtemp(prefix="kiln-parts-store-")), extra_args=("--models", str(models))).start()
    yield server
    server.stop()


def table():
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0, 0, 0.75), scale=(0.6, 0.4, 0.04))
    top = bpy.context.active_object
    for x in (-0.5, 0.5):
        for y in (-0.3, 0.3):
            bpy.ops.mesh.primitive_cube_add(size=1.0, location=(x, y, 0.36), scale=(0.04, 0.04, 0.36))
            bpy.context.active_object.select_set(True)
    top.select_set(True)
    bpy.context.view_layer.objects.active = top
    bpy.ops.object.join()
    obj = bpy.context.active_object
    obj.name = "Table"
    return obj


def _parts(top):
    return sorted(top.children, key=lambda c: c["kiln_part"])


def test_parts_panel_lists_renames_merges_and_resplits(backend):
    from addon_helpers.checking_layout import draw

    blender.fresh(backend.address, timeout=30.0)
    table()
    assert bpy.ops.kiln.split_parts(auto_parts=False, num_parts=3, method="model", wait=True) == {"FINISHED"}
    top = bpy.data.objects["Table_parts"]
    job = top["kiln_parts_job"]
    assert job and top["kiln_parts_count"] == 3 and len(top.children) == 3
    assert sorted(c["kiln_part"] for c in top.children) == [0, 1, 2]

    first = _parts(top)[0]
    bpy.context.view_layer.objects.active = first
    panel = blender.kiln().panels.KILN_PT_parts
    calls = draw(panel, bpy.context)
    assert ("operator", "kiln.resplit_parts") in calls
    sets = [c for c in calls if c[0] == "set"]
    assert ("set", "kiln.resplit_parts", "change", "MERGE") in sets
    assert ("set", "kiln.resplit_parts", "second", 2) in sets
    first.name = "my_leg"  # renaming is renaming the object
    assert "my_leg" in [c.name for c in top.children]

    assert bpy.ops.kiln.resplit_parts(change="MORE", wait=True) == {"FINISHED"}
    top = bpy.data.objects["Table_parts"]
    assert top["kiln_parts_count"] == 4 and len(top.children) == 4
    assert top["kiln_parts_job"] != job, "a new job answered"
    assert "Table_parts.001" not in bpy.data.objects, "the new result took the old one's place"
    store = backend.store / "jobs" / top["kiln_parts_job"]
    assert (store / "cache.npz").is_file(), "the re-split kept the features for the next change"

    bpy.context.view_layer.objects.active = top
    assert bpy.ops.kiln.resplit_parts(change="MERGE", first=0, second=3, wait=True) == {"FINISHED"}
    top = bpy.data.objects["Table_parts"]
    assert top["kiln_parts_count"] == 3 and len(top.children) == 3
    assert bpy.ops.kiln.resplit_parts(change="FEWER", wait=True) == {"FINISHED"}
    assert len(bpy.data.objects["Table_parts"].children) == 2


def test_a_renamed_part_keeps_its_name_through_a_merge_of_others(backend):
    blender.fresh(backend.address, timeout=30.0)
    table()
    assert bpy.ops.kiln.split_parts(auto_parts=False, num_parts=3, method="model", wait=True) == {"FINISHED"}
    top = bpy.data.objects["Table_parts"]
    parts = _parts(top)
    faces = len(parts[0].data.polygons)
    parts[0].name = "my_leg"
    assert bpy.ops.kiln.resplit_parts(change="MERGE", first=1, second=2, wait=True) == {"FINISHED"}
    top = bpy.data.objects["Table_parts"]
    assert len(top.children) == 2
    renamed = bpy.data.objects.get("my_leg")
    assert renamed is not None and renamed.parent == top and len(renamed.data.polygons) == faces


def test_vertex_group_result_is_one_object_with_groups_and_slots(backend):
    blender.fresh(backend.address, timeout=30.0)
    source = table()
    faces = len(source.data.polygons)
    assert bpy.ops.kiln.split_parts(auto_parts=False, num_parts=3, method="model", parts_output="GROUPS",
                                    wait=True) == {"FINISHED"}
    obj = bpy.data.objects["Table_parts"]
    assert obj.type == "MESH" and not obj.children and len(obj.data.polygons) == faces
    assert len(obj.vertex_groups) == 3 == len(obj.material_slots) == obj["kiln_parts_count"]
    used = {p.material_index for p in obj.data.polygons}
    assert used == {0, 1, 2}
    obj.vertex_groups.active_index = 0
    assert bpy.ops.kiln.resplit_parts(change="MERGE", first=0, second=1, wait=True) == {"FINISHED"}
    obj = bpy.data.objects["Table_parts"]
    assert len(obj.vertex_groups) == 2 and obj["kiln_parts_output"] == "GROUPS"


def test_resplit_needs_a_split_result(backend):
    blender.fresh(backend.address, timeout=30.0)
    table()
    with pytest.raises(RuntimeError, match="result of a Kiln split"):
        bpy.ops.kiln.resplit_parts(change="MORE", wait=True)
