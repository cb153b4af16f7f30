"""shared/glb.py against Blender's own glTF importer and exporter (bpy 5.0.1, in a subprocess)."""
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from shared.glb import read_glb, write_glb
from tests.platform_helpers.meshes import quad_box
from tests.platform_helpers.server_proc import ROOT

pytestmark = pytest.mark.blender

BLENDER_SCRIPT = r"""
import json, sys
import bpy
mode, path = sys.argv[1], sys.argv[2]
bpy.ops.wm.read_factory_settings(use_empty=True)
if mode == "export":
    bpy.ops.mesh.primitive_cube_add(size=2, location=(1, 2, 3))
    bpy.context.active_object.name = "Box"
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.5, location=(-3, 0, 1))
    bpy.context.active_object.name = "Ball"
    bpy.ops.export_scene.gltf(filepath=path, export_format="GLB")
else:
    bpy.ops.import_scene.gltf(filepath=path)
found = {}
for ob in bpy.context.scene.objects:
    if ob.type == "MESH":
        world = [list(ob.matrix_world @ v.co) for v in ob.data.vertices]
        found[ob.name] = {"points": world, "faces": len(ob.data.polygons),
                          "materials": [m.name for m in ob.data.materials]}
print("RESULT" + json.dumps(found))
"""


def _blender(mode: str, path) -> dict:
    # Only look for bpy here: importing it into the test process after trimesh has loaded another
    # Embree fails ("undefined symbol: rtcGetSceneTraversable"); Blender runs in a subprocess.
    if importlib.util.find_spec("bpy") is None:
        pytest.skip("bpy (Blender as a module) is not installed")
    result = subprocess.run([sys.executable, "-c", BLENDER_SCRIPT, mode, str(path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    line = next((l for l in result.stdout.splitlines() if l.startswith("RESULT")), None)
    assert line, result.stderr[-2000:]
    return json.loads(line[len("RESULT"):])


def test_blender_exported_glb_reads_in_blender_coordinates(tmp_path):
    path = tmp_path / "from_blender.glb"
    scene = _blender("export", path)
    mesh = read_glb(path.read_bytes())
    assert sorted(mesh.part_names) == ["Ball", "Box"]
    for index, name in enumerate(mesh.part_names):
        ours = mesh.positions[np.unique(mesh.face_indices.reshape(-1, 3)[mesh.part_ids == index])]
        theirs = np.array(scene[name]["points"])
        assert np.allclose(ours.min(axis=0), theirs.min(axis=0), atol=1e-5)
        assert np.allclose(ours.max(axis=0), theirs.max(axis=0), atol=1e-5)


def test_kiln_glb_imports_into_blender_with_parts_materials_and_axes(tmp_path):
    path = tmp_path / "from_kiln.glb"
    box = quad_box()
    path.write_bytes(write_glb(box))
    scene = _blender("import", path)
    assert set(scene) == {"lid and base", "sides"}
    assert scene["lid and base"]["materials"] == ["wood"] and scene["sides"]["materials"] == ["metal"]
    assert scene["lid and base"]["faces"] == 4 and scene["sides"]["faces"] == 8
    for name, part in enumerate(box.part_names):
        points = np.array(scene[part]["points"])
        expected = box.positions[np.unique(box.face_indices.reshape(-1, 4)[box.part_ids == name])]
        assert np.allclose(points.min(axis=0), expected.min(axis=0), atol=1e-6)
        assert np.allclose(points.max(axis=0), expected.max(axis=0), atol=1e-6)
