"""Blender mesh data (bpy) read back as a MeshPayload, for the benches that compare with Blender's
own operators (bench/lowpoly.py, bench/retopo.py)."""
from __future__ import annotations

import numpy as np

from shared.payload import MeshPayload


def payload_from_bpy_mesh(mesh) -> MeshPayload:
    """Positions, polygon sizes and corner vertex indices of a ``bpy.types.Mesh``."""
    pos = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", pos)
    sizes = np.empty(len(mesh.polygons), np.int32)
    mesh.polygons.foreach_get("loop_total", sizes)
    idx = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", idx)
    return MeshPayload(pos.reshape(-1, 3), sizes, idx)
