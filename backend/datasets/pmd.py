"""Reader for 0 A.D.'s PMD model format (``*.pmd``, e.g. ``art/meshes/**/*.dae.cached.pmd``).

Layout (little-endian): ``"PSMD"``, u32 version (1-4), u32 data size; u32 vertex count; version 4
only: u32 UV sets per vertex (1 before); vertices (position f32x3, normal f32x3, UV sets f32x2
each, blend: bone indices u8x4 + weights f32x4); u32 face count, faces u16x3; u32 bone count,
rest states (translation f32x3, rotation quaternion f32x4 xyzw); version 2+: prop points (name,
translation, rotation, bone), which this reader skips. Version 2 stores skinned vertices relative
to their bone's rest state; versions 1, 3 and 4 store them in world space (the rest pose).

Game coordinates are y up; :func:`read_pmd` returns them z up as Blender has it: (x, y, z) ->
(x, -z, y).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = b"PSMD"
NO_BONE = 0xFF


class PMDError(ValueError):
    """The bytes are not a PMD model this reader understands."""


@dataclass
class PMDMesh:
    """One PMD model in its rest pose, z up."""

    version: int
    positions: np.ndarray   # (V,3) float32
    normals: np.ndarray     # (V,3) float32
    uvs: np.ndarray         # (V,S,2) float32, S UV sets
    faces: np.ndarray       # (F,3) int32 triangles
    bone_count: int


def read_pmd(source) -> PMDMesh:
    """Parse a PMD file (path or bytes)."""
    data = source if isinstance(source, (bytes, bytearray, memoryview)) else open(source, "rb").read()
    data = bytes(data)
    if len(data) < 16 or data[:4] != MAGIC:
        raise PMDError("not a PMD file (no PSMD magic)")
    version, size = struct.unpack_from("<II", data, 4)
    if version not in (1, 2, 3, 4):
        raise PMDError(f"PMD version {version} is not supported (1-4)")
    if size != len(data) - 12:
        raise PMDError(f"PMD data size {size} does not match the file ({len(data) - 12} bytes after the header)")
    offset = 12
    (vertex_count,) = struct.unpack_from("<I", data, offset)
    offset += 4
    uv_sets = 1
    if version >= 4:
        (uv_sets,) = struct.unpack_from("<I", data, offset)
        offset += 4
    vertex_type = np.dtype([("position", "<f4", 3), ("normal", "<f4", 3), ("uv", "<f4", (uv_sets, 2)),
                            ("bones", "u1", 4), ("weights", "<f4", 4)])
    vertices = _array(data, offset, vertex_type, vertex_count, "vertices")
    offset += vertex_type.itemsize * vertex_count
    (face_count,) = _unpack(data, offset, "<I", "face count")
    offset += 4
    faces = _array(data, offset, np.dtype("<u2"), face_count * 3, "faces").reshape(-1, 3).astype(np.int32)
    offset += 6 * face_count
    (bone_count,) = _unpack(data, offset, "<I", "bone count")
    offset += 4
    rest = _array(data, offset, np.dtype("<f4"), bone_count * 7, "bone rest states").reshape(-1, 7)
    if len(faces) and faces.max() >= vertex_count:
        raise PMDError(f"a face refers to vertex {faces.max()} of {vertex_count}")
    positions = vertices["position"].astype(np.float64)
    normals = vertices["normal"].astype(np.float64)
    if version == 2 and bone_count:
        positions, normals = _bind_pose(positions, normals, vertices["bones"][:, 0], rest)
    to_z_up = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64)
    return PMDMesh(version, (positions @ to_z_up.T).astype(np.float32), (normals @ to_z_up.T).astype(np.float32),
                   vertices["uv"].astype(np.float32), faces, int(bone_count))


def _bind_pose(positions, normals, first_bone, rest):
    """Version 2: move bone-relative vertices into the rest pose (translation * rotation)."""
    positions, normals = positions.copy(), normals.copy()
    for bone in np.unique(first_bone):
        if bone == NO_BONE or bone >= len(rest):
            continue
        rows = first_bone == bone
        rotation = _quaternion_matrix(rest[bone, 3:7])
        positions[rows] = positions[rows] @ rotation.T + rest[bone, :3]
        normals[rows] = normals[rows] @ rotation.T
    return positions, normals


def _quaternion_matrix(q) -> np.ndarray:
    x, y, z, w = np.asarray(q, dtype=np.float64) / max(float(np.linalg.norm(q)), 1e-12)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _unpack(data: bytes, offset: int, fmt: str, what: str):
    if offset + struct.calcsize(fmt) > len(data):
        raise PMDError(f"PMD file ends inside its {what}")
    return struct.unpack_from(fmt, data, offset)


def _array(data: bytes, offset: int, dtype: np.dtype, count: int, what: str) -> np.ndarray:
    if offset + dtype.itemsize * count > len(data):
        raise PMDError(f"PMD file ends inside its {what}")
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset)
