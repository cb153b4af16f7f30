"""Small real meshes for platform tests: pymeshlab's sample files and hand-built polygon meshes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.payload import Material, MeshPayload


def sample_mesh_dir() -> Path:
    """The sample meshes that ship inside the pymeshlab wheel (bunny, cow, textured bunny, ...)."""
    import pymeshlab

    return Path(pymeshlab.__file__).parent / "tests" / "sample_meshes"


def quad_box(parts: bool = True, uvs: bool = True, textures: bool = False) -> MeshPayload:
    """A 2x1x1 box of 6 quads with per-corner UVs, two parts and two materials."""
    positions = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 2)], dtype=np.float32)
    quads = np.array([[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]],
                     dtype=np.int32)
    mesh = MeshPayload(positions=positions, face_sizes=np.full(6, 4, dtype=np.int32),
                       face_indices=quads.reshape(-1))
    if uvs:
        corner = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32) * 0.5
        mesh.corner_uvs = np.concatenate([corner + [0.5 * (i % 2), 0.25 * (i // 2)] for i in range(6)]).astype(np.float32)
    if parts:
        mesh.part_ids = np.array([0, 0, 1, 1, 1, 1], dtype=np.int32)
        mesh.part_names = ["lid and base", "sides"]
        mesh.materials = [Material("wood", (0.5, 0.3, 0.1, 1.0), 0.7, 0.0), Material("metal", (0.9, 0.9, 0.9, 1), 0.2, 1.0)]
        mesh.part_materials = [0, 1]
    if textures:
        rng = np.random.default_rng(0)
        mesh.textures = {"base_color": rng.integers(0, 256, (16, 8, 4), dtype=np.uint8),
                         "normal": rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)}
    return mesh
