"""Procedural artist meshes rendered by real Blender (bpy, Cycles, 8 samples): no visible face renders
black. Pieces that shared a plane (a sofa's base and arms, an armchair's seat frame and legs, a
bench's leg frame, a bookshelf's shelves and back) z-fought, and Cycles drew those faces black."""
from __future__ import annotations

import pytest

from backend.procedural.registry import generate
from shared.glb import write_glb
from tests.test_texture_blender import _black, _render

pytestmark = pytest.mark.blender

# each rendered black faces (16, 2, 4 and 5 of them) before its pieces were inset
OBJECTS = [("sofa", 0), ("armchair", 0), ("bench", 0), ("bookshelf", 6)]


@pytest.mark.slow
def test_procedural_objects_render_without_black_faces(tmp_path):
    names = {}
    for name, seed in OBJECTS:
        path = tmp_path / f"{name}{seed}.glb"
        path.write_bytes(write_glb(generate(name, seed).artist_mesh()))
        names[path] = name
    report = _render(list(names))
    names = {str(path): name for path, name in names.items()}
    for path, faces in report.items():
        assert len({(f["object"], f["face"]) for f in faces}) > 20, names[path]  # the views see it
        assert _black(faces) == [], f"{names[path]}: {_black(faces)}"
