"""Reader for SuperTuxKart's SPM mesh format (``*.spm``), geometry only.

Layout (little-endian): ``"SP"``; a byte whose bits 3+ are the version (1) and low bits the kind
(0 space-partitioned, unsupported; 1 animated ``SPMA``; 2 static ``SPMN``); a flag byte (bit 0
normals, bit 1 vertex colours, bit 2 tangents); bounding box f32x6; u16 material count, each two
texture names (u8 length + bytes); u16 section count, each a u16 buffer count, each buffer: u32
vertex count, u32 index count, u16 material id, then per vertex: position f32x3, normal packed
10:10:10:2 (if flagged), colour (u8 tag, + 3 bytes unless the tag is 128 = white; if flagged),
first UV as 2 half floats (if the material has a first texture), second UV likewise (if it has a
second), tangent u32 (if flagged and a first texture), and for SPMA joints i16x4 + half weights
x4; then the indices, u16 when the buffer has more than 255 vertices, else u8. Animation data
after the buffers (SPMA) is not read: the mesh comes back in its bind pose.

Game coordinates are y up; :func:`read_spm` returns them z up: (x, y, z) -> (x, -z, y).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

SUPPORTED_VERSION = 1
KINDS = {0: "SPMS", 1: "SPMA", 2: "SPMN"}


class SPMError(ValueError):
    """The bytes are not an SPM mesh this reader understands."""


@dataclass
class SPMMesh:
    """All buffers of one SPM file merged, z up."""

    kind: str                # "SPMN" static or "SPMA" animated (bind pose)
    positions: np.ndarray    # (V,3) float32
    normals: np.ndarray      # (V,3) float32 (zeros when the file has none)
    uvs: np.ndarray          # (V,2) float32 first UV set (zeros where a buffer has none)
    faces: np.ndarray        # (F,3) int32
    face_materials: np.ndarray  # (F,) int32 material index per face
    textures: list[str]      # first texture name per material ("" when none)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise SPMError("SPM file ends early")
        values = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return values

    def array(self, dtype, count: int) -> np.ndarray:
        dtype = np.dtype(dtype)
        if self.offset + dtype.itemsize * count > len(self.data):
            raise SPMError("SPM file ends inside a vertex or index array")
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += dtype.itemsize * count
        return out


def read_spm(source) -> SPMMesh:
    """Parse an SPM file (path or bytes)."""
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else open(source, "rb").read()
    if data[:2] != b"SP":
        raise SPMError("not an SPM file (no SP magic)")
    reader = _Reader(data)
    reader.offset = 2
    (byte,) = reader.take("<B")
    version, kind = byte >> 3, KINDS.get(byte & 0x07)
    if version != SUPPORTED_VERSION:
        raise SPMError(f"SPM version {version} is not supported ({SUPPORTED_VERSION})")
    if kind not in ("SPMA", "SPMN"):
        raise SPMError(f"SPM kind {kind or byte & 0x07} is not supported (static or animated meshes only)")
    (flags,) = reader.take("<B")
    has_normal, has_color, has_tangent = bool(flags & 1), bool(flags >> 1 & 1), bool(flags >> 2 & 1)
    reader.take("<6f")  # bounding box
    (material_count,) = reader.take("<H")
    textures = []
    for _ in range(material_count):
        names = []
        for _ in range(2):
            (length,) = reader.take("<B")
            names.append(reader.take(f"<{length}s")[0].decode("latin-1") if length else "")
        textures.append(tuple(names))
    positions, normals, uvs, faces, face_materials = [], [], [], [], []
    base = 0
    (sections,) = reader.take("<H")
    for _ in range(sections):
        (buffers,) = reader.take("<H")
        for _ in range(buffers):
            vertex_count, index_count, material = reader.take("<IIH")
            if material >= len(textures):
                raise SPMError(f"buffer material {material} of {len(textures)}")
            uv_one, uv_two = bool(textures[material][0]), bool(textures[material][1])
            p, n, uv = _vertices(reader, vertex_count, has_normal, has_color, has_tangent and uv_one,
                                 uv_one, uv_two, kind == "SPMA")
            index_type = "<u2" if vertex_count > 255 else "u1"
            indices = reader.array(index_type, index_count).astype(np.int64)
            if index_count % 3 or (index_count and indices.max() >= vertex_count):
                raise SPMError("SPM index buffer is not a list of triangles over its vertices")
            positions.append(p), normals.append(n), uvs.append(uv)
            faces.append(indices.reshape(-1, 3) + base)
            face_materials.append(np.full(index_count // 3, material, dtype=np.int32))
            base += vertex_count
    if not positions:
        raise SPMError("SPM file holds no mesh buffers")
    to_z_up = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float32)
    return SPMMesh(kind, np.concatenate(positions) @ to_z_up.T, np.concatenate(normals) @ to_z_up.T,
                   np.concatenate(uvs), np.concatenate(faces).astype(np.int32), np.concatenate(face_materials),
                   [t[0] for t in textures])


def _vertices(reader: _Reader, count: int, has_normal: bool, has_color: bool, has_tangent: bool,
              uv_one: bool, uv_two: bool, skinned: bool):
    """Positions, normals and first UVs of one buffer. The colour tag makes vertices variable-sized,
    so fixed-size runs are read vertex by vertex only when colours are present."""
    if not has_color:
        fields = [("position", "<f4", 3)] + ([("normal", "<u4")] if has_normal else []) \
            + ([("uv", "<f2", 2)] if uv_one else []) + ([("uv2", "<f2", 2)] if uv_one and uv_two else []) \
            + ([("tangent", "<u4")] if has_tangent else []) + ([("joints", "<i2", 4), ("weights", "<f2", 4)] if skinned else [])
        rows = reader.array(np.dtype(fields), count)
        normals = _unpack_normals(rows["normal"]) if has_normal else np.zeros((count, 3), np.float32)
        uvs = rows["uv"].astype(np.float32) if uv_one else np.zeros((count, 2), np.float32)
        return rows["position"].astype(np.float32), normals, uvs
    positions, packed, uvs = np.zeros((count, 3), np.float32), np.zeros(count, np.uint32), np.zeros((count, 2), np.float32)
    for i in range(count):
        positions[i] = reader.take("<3f")
        if has_normal:
            packed[i] = reader.take("<I")[0]
        (tag,) = reader.take("<B")
        if tag != 128:
            reader.take("<3B")
        if uv_one:
            uvs[i] = reader.array("<f2", 2)
            if uv_two:
                reader.take("<2H")
            if has_tangent:
                reader.take("<I")
        if skinned:
            reader.take("<4h4H")
    normals = _unpack_normals(packed) if has_normal else np.zeros((count, 3), np.float32)
    return positions, normals, uvs


def _unpack_normals(packed: np.ndarray) -> np.ndarray:
    """10:10:10:2 signed normalised -> unit vectors (negative values scale by 1/512, positive 1/511)."""
    packed = packed.astype(np.int64)
    parts = np.stack([(packed >> shift) & 1023 for shift in (0, 10, 20)], axis=-1)
    values = np.where(parts & 512, (parts - 1024) / 512.0, parts / 511.0)
    length = np.linalg.norm(values, axis=-1, keepdims=True)
    return (values / np.maximum(length, 1e-12)).astype(np.float32)
