"""Mesh and image payloads and their wire layout (see DESIGN.md, "Payloads").

A mesh named ``m`` travels as buffers ``m.positions`` float32 (V,3), ``m.face_sizes`` int32 (F,),
``m.face_indices`` int32 (sum of sizes), optional ``m.corner_uvs`` float32 (sum of sizes, 2),
``m.part_ids`` int32 (F,), and texture images ``m.base_color`` / ``m.roughness`` / ``m.metallic`` /
``m.normal`` uint8 (H,W,4). Part names, materials and free-form info go in the header under the
mesh's name. Coordinates are Blender's: right-handed, Z up, metres.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .protocol import ErrorCode, ProtocolError

TEXTURE_SLOTS = ("base_color", "roughness", "metallic", "normal")
MAX_PARTS = 4096


@dataclass
class Material:
    """A PBR material: linear-ish RGBA base colour factor in [0,1], roughness, metallic."""

    name: str = "material"
    base_color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    roughness: float = 0.5
    metallic: float = 0.0

    def to_json(self) -> dict:
        return {"name": self.name, "base_color": [float(c) for c in self.base_color],
                "roughness": float(self.roughness), "metallic": float(self.metallic)}

    @classmethod
    def from_json(cls, data: Any) -> "Material":
        if not isinstance(data, dict):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "a material must be an object")
        try:
            color = tuple(float(c) for c in data.get("base_color", (0.8, 0.8, 0.8, 1.0)))
            if len(color) == 3:
                color = color + (1.0,)
            if len(color) != 4 or not all(np.isfinite(color)):
                raise ValueError("base_color needs 3 or 4 finite numbers")
            return cls(name=str(data.get("name", "material"))[:200], base_color=color,
                       roughness=float(data.get("roughness", 0.5)), metallic=float(data.get("metallic", 0.0)))
        except (TypeError, ValueError) as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"bad material: {exc}") from None


@dataclass
class MeshPayload:
    """A polygon mesh with optional UVs, parts, materials and textures.

    ``part_materials[i]`` is the index into ``materials`` of part ``i``. Textures (uint8 RGBA,
    row 0 at the top) belong to material 0. ``info`` carries JSON metadata such as a report.
    """

    positions: np.ndarray
    face_sizes: np.ndarray
    face_indices: np.ndarray
    corner_uvs: np.ndarray | None = None
    part_ids: np.ndarray | None = None
    part_names: list[str] = field(default_factory=list)
    part_materials: list[int] = field(default_factory=list)
    materials: list[Material] = field(default_factory=list)
    textures: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @classmethod
    def from_triangles(cls, vertices, faces, **extra) -> "MeshPayload":
        """Build a payload from a (V,3) vertex array and a (F,3) triangle array."""
        faces = np.asarray(faces, dtype=np.int32).reshape(-1, 3)
        return cls(positions=np.asarray(vertices, dtype=np.float32).reshape(-1, 3),
                   face_sizes=np.full(len(faces), 3, dtype=np.int32),
                   face_indices=faces.reshape(-1), **extra)

    @property
    def num_vertices(self) -> int:
        return int(len(self.positions))

    @property
    def num_faces(self) -> int:
        return int(len(self.face_sizes))

    def face_offsets(self) -> np.ndarray:
        """Start index of each face in ``face_indices`` (length F+1)."""
        return np.concatenate([[0], np.cumsum(self.face_sizes, dtype=np.int64)])

    def triangulated(self) -> np.ndarray:
        """Fan-triangulate every polygon; returns (T,3) int32 vertex indices."""
        return self.face_indices[self.triangulated_corners()].astype(np.int32)

    def triangulated_corners(self) -> np.ndarray:
        """Fan-triangulate every polygon; returns (T,3) int64 corner indices into ``face_indices``
        (so per-corner data such as ``corner_uvs`` follows the triangles)."""
        sizes = self.face_sizes.astype(np.int64)
        starts = self.face_offsets()[:-1]
        tri_per_face = np.maximum(sizes - 2, 0)
        face_of_tri = np.repeat(np.arange(len(sizes)), tri_per_face)
        k = np.arange(len(face_of_tri)) - np.repeat(np.cumsum(tri_per_face) - tri_per_face, tri_per_face)
        base = starts[face_of_tri]
        return np.stack([base, base + k + 1, base + k + 2], axis=1)

    def triangle_face_ids(self) -> np.ndarray:
        """For each triangle of :meth:`triangulated`, the polygon it came from."""
        tri_per_face = np.maximum(self.face_sizes.astype(np.int64) - 2, 0)
        return np.repeat(np.arange(len(self.face_sizes)), tri_per_face).astype(np.int32)

    def validate(self, name: str = "mesh", allow_empty: bool = False) -> None:
        """Raise ProtocolError(bad_request) unless the arrays are consistent, finite and in range."""
        def bad(msg: str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"mesh {name!r}: {msg}")

        pos, sizes, idx = self.positions, self.face_sizes, self.face_indices
        if pos.dtype != np.float32 or pos.ndim != 2 or pos.shape[1] != 3:
            bad(f"positions must be float32 (V,3), got {pos.dtype} {pos.shape}")
        if sizes.dtype != np.int32 or sizes.ndim != 1:
            bad(f"face_sizes must be int32 (F,), got {sizes.dtype} {sizes.shape}")
        if idx.dtype != np.int32 or idx.ndim != 1:
            bad(f"face_indices must be int32 (N,), got {idx.dtype} {idx.shape}")
        if not allow_empty and (len(pos) == 0 or len(sizes) == 0):
            bad("is empty (no vertices or no faces)")
        if len(sizes) and sizes.min() < 3:
            bad("every face needs at least 3 corners")
        if int(sizes.sum(dtype=np.int64)) != len(idx):
            bad(f"face_sizes sum to {int(sizes.sum(dtype=np.int64))} but there are {len(idx)} face indices")
        if len(idx) and (idx.min() < 0 or idx.max() >= len(pos)):
            bad(f"face indices out of range [0, {len(pos)})")
        if not np.isfinite(pos).all():
            bad("positions contain NaN or infinity")
        if self.corner_uvs is not None:
            uv = self.corner_uvs
            if uv.dtype != np.float32 or uv.shape != (len(idx), 2):
                bad(f"corner_uvs must be float32 ({len(idx)},2), got {uv.dtype} {uv.shape}")
            if not np.isfinite(uv).all():
                bad("corner_uvs contain NaN or infinity")
        if self.part_ids is not None:
            pid = self.part_ids
            if pid.dtype != np.int32 or pid.shape != (len(sizes),):
                bad(f"part_ids must be int32 ({len(sizes)},), got {pid.dtype} {pid.shape}")
            if len(pid) and (pid.min() < 0 or pid.max() >= max(len(self.part_names), 1)):
                bad("part_ids must index part_names")
        if len(self.part_names) > MAX_PARTS:
            bad(f"more than {MAX_PARTS} parts")
        for i in self.part_materials:
            if not 0 <= i < len(self.materials):
                bad("part_materials must index materials")
        for slot, image in self.textures.items():
            if slot not in TEXTURE_SLOTS:
                bad(f"unknown texture slot {slot!r}")
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 4:
                bad(f"texture {slot!r} must be uint8 (H,W,4), got {image.dtype} {image.shape}")


@dataclass
class ImagePayload:
    """An RGBA uint8 image (H,W,4), row 0 at the top."""

    pixels: np.ndarray
    info: dict = field(default_factory=dict)

    def validate(self, name: str = "image") -> None:
        p = self.pixels
        if p.dtype != np.uint8 or p.ndim != 3 or p.shape[2] != 4 or p.shape[0] == 0 or p.shape[1] == 0:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"image {name!r} must be non-empty uint8 (H,W,4), got {p.dtype} {p.shape}")


Payload = MeshPayload | ImagePayload

_MESH_ARRAYS = ("positions", "face_sizes", "face_indices")
_MESH_OPTIONAL = ("corner_uvs", "part_ids")


def pack_payloads(payloads: dict[str, Payload]) -> tuple[dict, list[tuple[str, np.ndarray]]]:
    """Turn named payloads into (header description, buffers) for ``encode_message``."""
    described: dict[str, dict] = {}
    buffers: list[tuple[str, np.ndarray]] = []
    for name, item in payloads.items():
        if isinstance(item, MeshPayload):
            item.validate(name, allow_empty=True)
            described[name] = {"kind": "mesh", "part_names": list(item.part_names),
                               "part_materials": [int(i) for i in item.part_materials],
                               "materials": [m.to_json() for m in item.materials], "info": item.info}
            for attr in _MESH_ARRAYS + _MESH_OPTIONAL:
                value = getattr(item, attr)
                if value is not None:
                    buffers.append((f"{name}.{attr}", value))
            for slot, image in item.textures.items():
                buffers.append((f"{name}.{slot}", image))
        elif isinstance(item, ImagePayload):
            item.validate(name)
            described[name] = {"kind": "image", "info": item.info}
            buffers.append((f"{name}.pixels", item.pixels))
        else:
            raise TypeError(f"payload {name!r} is {type(item).__name__}, not a mesh or image")
    return described, buffers


def unpack_payloads(described: Any, arrays: dict[str, np.ndarray]) -> dict[str, Payload]:
    """Rebuild and validate payloads from a header description and decoded buffers."""
    if described is None:
        described = {}
    if not isinstance(described, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'inputs'/'outputs' must be an object")
    result: dict[str, Payload] = {}
    used: set[str] = set()

    def take(key: str, required: bool):
        if key not in arrays:
            if required:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"missing buffer {key!r}")
            return None
        used.add(key)
        return arrays[key]

    for name, desc in described.items():
        if not isinstance(desc, dict) or desc.get("kind") not in ("mesh", "image"):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"payload {name!r} needs kind 'mesh' or 'image'")
        info = desc.get("info", {})
        if not isinstance(info, dict):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"payload {name!r}: 'info' must be an object")
        if desc["kind"] == "image":
            image = ImagePayload(take(f"{name}.pixels", True), info=info)
            image.validate(name)
            result[name] = image
            continue
        part_names = desc.get("part_names", [])
        part_materials = desc.get("part_materials", [])
        materials = desc.get("materials", [])
        if not (isinstance(part_names, list) and all(isinstance(n, str) for n in part_names)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"mesh {name!r}: part_names must be a list of strings")
        if not (isinstance(part_materials, list) and all(
                isinstance(i, int) and not isinstance(i, bool) for i in part_materials)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"mesh {name!r}: part_materials must be a list of ints")
        if not isinstance(materials, list):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"mesh {name!r}: materials must be a list")
        mesh = MeshPayload(
            positions=take(f"{name}.positions", True),
            face_sizes=take(f"{name}.face_sizes", True),
            face_indices=take(f"{name}.face_indices", True),
            corner_uvs=take(f"{name}.corner_uvs", False),
            part_ids=take(f"{name}.part_ids", False),
            part_names=part_names, part_materials=part_materials,
            materials=[Material.from_json(m) for m in materials],
            textures={slot: arr for slot in TEXTURE_SLOTS
                      if (arr := take(f"{name}.{slot}", False)) is not None},
            info=info)
        mesh.validate(name, allow_empty=True)
        result[name] = mesh
    stray = sorted(set(arrays) - used)
    if stray:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"buffers not described by any payload: {', '.join(stray)}")
    return result
