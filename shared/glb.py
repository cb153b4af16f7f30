"""GLB (binary glTF 2.0) read/write with numpy only, so the backend and Blender share one codec.

Coordinates: a :class:`MeshPayload` is Blender's (Z up); glTF is Y up. Conversion happens here, at
the file boundary: glTF (x, y, z) = Blender (x, z, -y). UVs flip V (glTF's origin is top-left).

Writing triangulates polygons and emits one node + mesh per part, named by the part, with
smoothed-by-angle normals, PBR material factors and embedded PNG textures (material 0 carries the
payload's textures; roughness and metallic images are packed into glTF's metallicRoughness
texture, G and B). Reading walks the scene graph (node transforms applied), turns each primitive
into a part, welds vertices that share exact positions (so the surface stays connected) and keeps
UVs per corner.
"""
from __future__ import annotations

import base64
import json
import math
import struct
from typing import Callable

import numpy as np

from .payload import Material, MeshPayload
from .normals import smooth_groups
from .png import PNGError, decode_png, encode_png
from .protocol import ProtocolError, json_safe

GLTF_FROM_BLENDER = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float64)
BLENDER_FROM_GLTF = GLTF_FROM_BLENDER.T

_MAGIC, _JSON, _BIN = 0x46546C67, 0x4E4F534A, 0x004E4942
_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_TRIANGLES, _STRIP, _FAN = 4, 5, 6
_MAX_DEPTH = 64

ImageDecoder = Callable[[bytes, str], np.ndarray]


class GLBError(ValueError):
    """A GLB/glTF file that is malformed or uses a feature this reader does not support."""


def unique_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of an int32 (N,k) array and the inverse index. Columns are folded into dense
    int64 ids one at a time (1-D sorts), far faster than ``np.unique(axis=0)``."""
    if not len(keys):
        return keys, np.zeros(0, dtype=np.int64)
    _, ids = np.unique(keys[:, 0].view(np.uint32), return_inverse=True)
    first = None
    for column in range(1, keys.shape[1]):
        combined = ids.astype(np.int64) * (1 << 32) + keys[:, column].view(np.uint32)
        _, first, ids = np.unique(combined, return_index=True, return_inverse=True)
    if first is None:
        _, first = np.unique(ids, return_index=True)
    return keys[first], ids.reshape(-1).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# Writing

class _BinaryBuilder:
    """Accumulates the BIN chunk, bufferViews and accessors of a glTF document."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, data: bytes, target: int | None = None) -> int:
        pad = (-self.size) % 4
        if pad:
            self.chunks.append(b"\0" * pad)
            self.size += pad
        view = {"buffer": 0, "byteOffset": self.size, "byteLength": len(data)}
        if target:
            view["target"] = target
        self.chunks.append(data)
        self.size += len(data)
        self.views.append(view)
        return len(self.views) - 1

    def accessor(self, array: np.ndarray, kind: str, target: int, bounds: bool = False) -> int:
        component = {np.dtype(np.float32): 5126, np.dtype(np.uint32): 5125}[array.dtype]
        entry = {"bufferView": self.view(np.ascontiguousarray(array).astype("<" + array.dtype.str[1:]).tobytes(),
                                         target),
                 "componentType": component, "count": int(len(array)), "type": kind}
        if bounds:
            entry["min"] = array.min(axis=0).astype(float).tolist()
            entry["max"] = array.max(axis=0).astype(float).tolist()
        self.accessors.append(entry)
        return len(self.accessors) - 1

    def blob(self) -> bytes:
        data = b"".join(self.chunks)
        return data + b"\0" * ((-len(data)) % 4)


def write_glb(mesh: MeshPayload, smooth_angle: float = 30.0) -> bytes:
    """Encode a mesh payload as GLB bytes (triangulated; parts, materials, UVs, textures kept).

    Normals are smoothed across edges flatter than ``smooth_angle`` degrees and split at sharper
    ones (0 gives flat shading, 180 smooths everything).
    """
    mesh.validate("mesh")
    out = _BinaryBuilder()
    materials = list(mesh.materials) or ([Material()] if mesh.textures else [])
    corners = mesh.triangulated_corners()
    groups, group_normals, group_vertex = smooth_groups(mesh.positions, mesh.face_indices[corners], smooth_angle)
    groups = groups.reshape(-1, 3)
    tri_part = (mesh.part_ids[mesh.triangle_face_ids()] if mesh.part_ids is not None
                else np.zeros(len(corners), dtype=np.int32))
    names = (list(mesh.part_names) if mesh.part_ids is not None and mesh.part_names
             else [str(mesh.info.get("name", "mesh"))])
    nodes, meshes = [], []
    for part, name in enumerate(names):
        selected = tri_part == part
        if not selected.any():
            continue
        primitive = _primitive(out, mesh, corners[selected], groups[selected].reshape(-1), group_normals, group_vertex)
        material = mesh.part_materials[part] if part < len(mesh.part_materials) else 0
        if materials:
            primitive["material"] = int(material)
        meshes.append({"name": name, "primitives": [primitive]})
        nodes.append({"name": name, "mesh": len(meshes) - 1})
    doc: dict = {"asset": {"version": "2.0", "generator": "Kiln"},
                 "scene": 0, "scenes": [{"nodes": list(range(len(nodes)))}], "nodes": nodes, "meshes": meshes}
    if mesh.info:
        doc["scenes"][0]["extras"] = {"kiln_info": json_safe(mesh.info)}
    if materials:
        doc["materials"] = [_material_json(m) for m in materials]
        _add_textures(doc, out, mesh.textures)
    doc["bufferViews"], doc["accessors"] = out.views, out.accessors
    blob = out.blob()
    if blob:
        doc["buffers"] = [{"byteLength": len(blob)}]
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * ((-len(text)) % 4)
    chunks = struct.pack("<II", len(text), _JSON) + text
    if blob:
        chunks += struct.pack("<II", len(blob), _BIN) + blob
    return struct.pack("<III", _MAGIC, 2, 12 + len(chunks)) + chunks


def _primitive(out: _BinaryBuilder, mesh: MeshPayload, corners: np.ndarray, groups: np.ndarray,
               group_normals: np.ndarray, group_vertex: np.ndarray) -> dict:
    """One triangle primitive; a vertex is split where its corners differ in UV or smoothing group."""
    flat = corners.reshape(-1)
    if mesh.corner_uvs is not None:
        key = np.column_stack([groups.astype(np.int32), (mesh.corner_uvs[flat] + np.float32(0)).view(np.int32)])
        unique, inverse = unique_rows(key)
        group, uv = unique[:, 0], unique[:, 1:].copy().view(np.float32)
    else:
        group, inverse = np.unique(groups, return_inverse=True)
        uv = None
    positions = (mesh.positions[group_vertex[group]].astype(np.float64) @ GLTF_FROM_BLENDER.T).astype(np.float32)
    normals = (group_normals[group].astype(np.float64) @ GLTF_FROM_BLENDER.T).astype(np.float32)
    attributes = {"POSITION": out.accessor(positions, "VEC3", 34962, bounds=True),
                  "NORMAL": out.accessor(normals, "VEC3", 34962)}
    if uv is not None:
        gl_uv = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]).astype(np.float32)
        attributes["TEXCOORD_0"] = out.accessor(gl_uv, "VEC2", 34962)
    indices = out.accessor(inverse.reshape(-1).astype(np.uint32), "SCALAR", 34963)
    return {"attributes": attributes, "indices": indices, "mode": _TRIANGLES}


def _material_json(material: Material) -> dict:
    return {"name": material.name, "doubleSided": True,
            "pbrMetallicRoughness": {"baseColorFactor": [float(c) for c in material.base_color],
                                     "roughnessFactor": float(material.roughness),
                                     "metallicFactor": float(material.metallic)}}


def _add_textures(doc: dict, out: _BinaryBuilder, textures: dict[str, np.ndarray]) -> None:
    images: list[np.ndarray] = []
    pbr = doc["materials"][0]["pbrMetallicRoughness"]
    if "base_color" in textures:
        images.append(textures["base_color"])
        pbr["baseColorTexture"] = {"index": len(images) - 1}
    if "roughness" in textures or "metallic" in textures:
        images.append(_pack_metallic_roughness(textures.get("roughness"), textures.get("metallic")))
        pbr["metallicRoughnessTexture"] = {"index": len(images) - 1}
    if "normal" in textures:
        images.append(textures["normal"])
        doc["materials"][0]["normalTexture"] = {"index": len(images) - 1}
    if not images:
        return
    doc["images"] = [{"bufferView": out.view(encode_png(img)), "mimeType": "image/png"} for img in images]
    doc["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]
    doc["textures"] = [{"source": i, "sampler": 0} for i in range(len(images))]


def _pack_metallic_roughness(roughness: np.ndarray | None, metallic: np.ndarray | None) -> np.ndarray:
    """glTF wants roughness in G and metallic in B of one image; missing ones become 1 (factor rules)."""
    shape = (roughness if roughness is not None else metallic).shape[:2]
    packed = np.full(shape + (4,), 255, dtype=np.uint8)
    packed[:, :, 0] = 0
    if roughness is not None:
        packed[:, :, 1] = _resize_nearest(roughness, shape)[:, :, 0]
    if metallic is not None:
        packed[:, :, 2] = _resize_nearest(metallic, shape)[:, :, 0]
    return packed


def _resize_nearest(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == shape:
        return image
    rows = (np.arange(shape[0]) * image.shape[0]) // shape[0]
    cols = (np.arange(shape[1]) * image.shape[1]) // shape[1]
    return image[rows][:, cols]


# ----------------------------------------------------------------------------------------------
# Reading

def read_glb(data: bytes, decode_image: ImageDecoder | None = None, weld: bool = True) -> MeshPayload:
    """Decode GLB bytes into one mesh payload (Blender coordinates). Raises GLBError."""
    if len(data) < 20:
        raise GLBError("file is too short to be a GLB")
    magic, version, length = struct.unpack_from("<III", data, 0)
    if magic != _MAGIC:
        raise GLBError("not a GLB file (bad magic); for .gltf text files use read_gltf")
    if version != 2:
        raise GLBError(f"GLB version {version} not supported (only glTF 2.0)")
    if length > len(data):
        raise GLBError(f"GLB is truncated: header says {length} bytes, file has {len(data)}")
    pos, document, binary = 12, None, b""
    while pos + 8 <= length:
        size, kind = struct.unpack_from("<II", data, pos)
        body = data[pos + 8:pos + 8 + size]
        if len(body) != size:
            raise GLBError("GLB chunk runs past the end of the file")
        if kind == _JSON and document is None:
            try:
                document = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise GLBError(f"GLB JSON chunk is invalid: {exc}") from None
        elif kind == _BIN and not binary:
            binary = body
        pos += 8 + size + ((-size) % 4 if pos + 8 + size < length else 0)
    if not isinstance(document, dict):
        raise GLBError("GLB has no JSON chunk")

    def load_uri(uri: str) -> bytes:
        raise GLBError(f"GLB refers to an external file {uri[:80]!r}; embed it or use a .gltf loader")

    return read_gltf(document, load_uri, glb_binary=binary, decode_image=decode_image, weld=weld)


def read_gltf(document: dict, load_uri: Callable[[str], bytes], *, glb_binary: bytes | None = None,
              decode_image: ImageDecoder | None = None, weld: bool = True) -> MeshPayload:
    """Decode a parsed glTF document; ``load_uri`` returns the bytes of a relative (non-data) URI."""
    return _Reader(document, load_uri, glb_binary, decode_image).mesh(weld)


def _decode_data_uri(uri: str) -> bytes:
    head, _, payload = uri.partition(",")
    if ";base64" not in head:
        raise GLBError("only base64 data URIs are supported")
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError as exc:
        raise GLBError(f"bad base64 data URI: {exc}") from None


class _Reader:
    def __init__(self, doc: dict, load_uri, glb_binary, decode_image) -> None:
        if not isinstance(doc, dict) or str(doc.get("asset", {}).get("version", "")).split(".")[0] != "2":
            raise GLBError("not a glTF 2.0 document (asset.version must be 2.x)")
        used = set(doc.get("extensionsRequired", []))
        if used:
            raise GLBError(f"file requires glTF extensions {sorted(used)} which are not supported; "
                           "re-export without compression/extensions")
        self.doc, self.load_uri, self.decode_image = doc, load_uri, decode_image
        self.glb_binary = glb_binary
        self._buffers: dict[int, bytes] = {}

    def _get(self, key: str, index) -> dict:
        items = self.doc.get(key, [])
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(items):
            raise GLBError(f"{key}[{index!r}] does not exist")
        item = items[index]
        if not isinstance(item, dict):
            raise GLBError(f"{key}[{index}] is not an object")
        return item

    def buffer(self, index: int) -> bytes:
        if index not in self._buffers:
            entry = self._get("buffers", index)
            uri = entry.get("uri")
            if uri is None:
                if self.glb_binary is None:
                    raise GLBError(f"buffer {index} has no uri and there is no GLB binary chunk")
                data = self.glb_binary
            elif uri.startswith("data:"):
                data = _decode_data_uri(uri)
            else:
                data = self.load_uri(uri)
            if len(data) < entry.get("byteLength", 0):
                raise GLBError(f"buffer {index} is shorter than its byteLength")
            self._buffers[index] = data
        return self._buffers[index]

    def view_bytes(self, index: int) -> tuple[bytes, int, int, int | None]:
        view = self._get("bufferViews", index)
        data = self.buffer(view.get("buffer"))
        offset, length = int(view.get("byteOffset", 0)), int(view.get("byteLength", 0))
        if offset < 0 or length < 0 or offset + length > len(data):
            raise GLBError(f"bufferView {index} runs past the end of its buffer")
        return data, offset, length, view.get("byteStride")

    def accessor(self, index: int) -> np.ndarray:
        acc = self._get("accessors", index)
        if "sparse" in acc:
            raise GLBError("sparse accessors are not supported")
        dtype = _COMPONENTS.get(acc.get("componentType"))
        width = _WIDTH.get(acc.get("type"))
        count = acc.get("count")
        if dtype is None or width is None or not isinstance(count, int) or count < 0:
            raise GLBError(f"accessor {index} has a bad componentType/type/count")
        dtype = np.dtype(dtype).newbyteorder("<")
        if "bufferView" not in acc:
            return np.zeros((count, width), dtype=dtype)
        data, offset, length, stride = self.view_bytes(acc["bufferView"])
        item = dtype.itemsize * width
        stride = int(stride or item)
        start = offset + int(acc.get("byteOffset", 0))
        if count and (stride < item or start + stride * (count - 1) + item > offset + length):
            raise GLBError(f"accessor {index} runs past the end of its bufferView")
        array = np.ndarray((count, width), dtype=dtype, buffer=data, offset=start,
                           strides=(stride, dtype.itemsize)).astype(dtype.newbyteorder("="))
        if acc.get("normalized") and array.dtype.kind in "iu":
            array = np.maximum(array / float(np.iinfo(array.dtype).max), -1.0).astype(np.float32)
        return array

    def image(self, index: int) -> np.ndarray:
        entry = self._get("images", index)
        if "bufferView" in entry:
            data, offset, length, _ = self.view_bytes(entry["bufferView"])
            blob = data[offset:offset + length]
        elif isinstance(entry.get("uri"), str):
            uri = entry["uri"]
            blob = _decode_data_uri(uri) if uri.startswith("data:") else self.load_uri(uri)
        else:
            raise GLBError(f"image {index} has neither bufferView nor uri")
        mime = entry.get("mimeType", "")
        if blob.startswith(b"\x89PNG"):
            try:
                return decode_png(blob)
            except PNGError as exc:
                raise GLBError(f"image {index}: {exc}") from None
        if self.decode_image is None:
            raise GLBError(f"image {index} is {mime or 'not PNG'}; only PNG textures can be decoded here")
        return self.decode_image(blob, mime)

    def texture_image(self, ref) -> np.ndarray | None:
        if not isinstance(ref, dict):
            return None
        texture = self._get("textures", ref.get("index"))
        if "source" not in texture:
            return None
        return self.image(texture["source"])

    # -- scene graph --------------------------------------------------------------------------
    def root_nodes(self) -> list[int]:
        scenes = self.doc.get("scenes", [])
        if scenes:
            scene = self._get("scenes", self.doc.get("scene", 0))
            return list(scene.get("nodes", []))
        children = {c for n in self.doc.get("nodes", []) for c in n.get("children", [])}
        return [i for i in range(len(self.doc.get("nodes", []))) if i not in children]

    def walk(self):
        """Yield (node index, node, 4x4 world matrix) for every node reachable from the scene."""
        stack = [(i, np.eye(4), 0, ()) for i in reversed(self.root_nodes())]
        while stack:
            index, parent, depth, path = stack.pop()
            if depth > _MAX_DEPTH or index in path:
                raise GLBError("node hierarchy is too deep or has a cycle")
            node = self._get("nodes", index)
            world = parent @ _local_matrix(node)
            yield index, node, world
            for child in reversed(node.get("children", [])):
                stack.append((child, world, depth + 1, path + (index,)))

    # -- assembly -------------------------------------------------------------------------------
    def mesh(self, weld: bool) -> MeshPayload:
        positions, faces, uvs, part_of_face = [], [], [], []
        names, part_material, any_uv, base = [], [], False, 0
        for _, node, world in self.walk():
            if "mesh" not in node:
                continue
            gl_mesh = self._get("meshes", node["mesh"])
            label = node.get("name") or gl_mesh.get("name") or f"part_{len(names)}"
            primitives = gl_mesh.get("primitives", [])
            for j, prim in enumerate(primitives):
                triangles = self._primitive_triangles(prim)
                if triangles is None:
                    continue
                points = self.accessor(prim["attributes"]["POSITION"]).astype(np.float64)
                if points.shape[1] != 3:
                    raise GLBError("POSITION must be VEC3")
                if len(triangles) and triangles.max() >= len(points):
                    raise GLBError("triangle index out of range of the POSITION accessor")
                world_points = points @ world[:3, :3].T + world[:3, 3]
                positions.append(world_points @ BLENDER_FROM_GLTF.T)
                if _mirrors(world):
                    triangles = triangles[:, ::-1]
                faces.append(triangles + base)
                uv = None
                if "TEXCOORD_0" in prim["attributes"]:
                    uv = self.accessor(prim["attributes"]["TEXCOORD_0"]).astype(np.float32)
                    if uv.shape[1] != 2:
                        raise GLBError("TEXCOORD_0 must be VEC2")
                    uv = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])[triangles.reshape(-1)]
                    any_uv = True
                uvs.append(uv)
                part_of_face.append(np.full(len(triangles), len(names), dtype=np.int32))
                names.append(label if len(primitives) == 1 else f"{label}.{j}")
                part_material.append(prim.get("material"))
                base += len(points)
        if not faces:
            raise GLBError("file contains no triangle meshes")
        tris = np.concatenate(faces).astype(np.int64)
        points = np.concatenate(positions).astype(np.float32)
        if not np.isfinite(points).all():
            raise GLBError("vertex positions contain NaN or infinity")
        corner_uvs = None
        if any_uv:
            corner_uvs = np.concatenate([u if u is not None else np.zeros((3 * len(f), 2), np.float32)
                                         for u, f in zip(uvs, faces)]).astype(np.float32)
        if weld:
            unique, inverse = unique_rows((points + np.float32(0)).view(np.int32))  # +0 folds -0.0 into 0.0
            points, tris = unique.view(np.float32), inverse[tris]
        materials, part_materials, textures = self._materials(part_material)
        info = {}
        scenes = self.doc.get("scenes", [])
        if scenes and isinstance(scenes[0], dict):
            info = scenes[0].get("extras", {}).get("kiln_info", {}) or {}
        mesh = MeshPayload(positions=np.ascontiguousarray(points, dtype=np.float32),
                           face_sizes=np.full(len(tris), 3, dtype=np.int32),
                           face_indices=tris.reshape(-1).astype(np.int32), corner_uvs=corner_uvs,
                           part_ids=np.concatenate(part_of_face), part_names=names,
                           part_materials=part_materials, materials=materials, textures=textures,
                           info=dict(info) if isinstance(info, dict) else {})
        try:
            mesh.validate("mesh")
        except ProtocolError as exc:
            raise GLBError(exc.message) from None
        return mesh

    def _primitive_triangles(self, prim: dict) -> np.ndarray | None:
        if not isinstance(prim, dict) or "POSITION" not in prim.get("attributes", {}):
            return None
        if "KHR_draco_mesh_compression" in prim.get("extensions", {}):
            raise GLBError("Draco-compressed meshes are not supported; re-export without compression")
        mode = prim.get("mode", _TRIANGLES)
        if mode not in (_TRIANGLES, _STRIP, _FAN):
            return None  # points and lines carry no faces
        if "indices" in prim:
            index = self.accessor(prim["indices"]).reshape(-1).astype(np.int64)
        else:
            index = np.arange(self._get("accessors", prim["attributes"]["POSITION"]).get("count", 0))
        if mode == _TRIANGLES:
            if len(index) % 3:
                raise GLBError("triangle index count is not a multiple of 3")
            return index.reshape(-1, 3)
        if len(index) < 3:
            return np.zeros((0, 3), dtype=np.int64)
        k = np.arange(len(index) - 2)
        if mode == _FAN:
            return np.column_stack([np.full(len(k), index[0]), index[k + 1], index[k + 2]])
        odd = (k % 2).astype(bool)
        first = np.where(odd, index[k + 1], index[k])
        second = np.where(odd, index[k], index[k + 1])
        return np.column_stack([first, second, index[k + 2]])

    def _materials(self, per_part: list) -> tuple[list[Material], list[int], dict]:
        used = [m for m in dict.fromkeys(per_part) if m is not None]
        if not used:
            return [], [], {}
        textured = next((m for m in used if self._has_texture(m)), None)
        if textured is not None:
            used.remove(textured)
            used.insert(0, textured)
        order = {m: i for i, m in enumerate(used)}
        materials = [self._material(m) for m in used]
        if any(m is None for m in per_part):
            materials.append(Material(name="default"))
        part_materials = [order[m] if m is not None else len(materials) - 1 for m in per_part]
        textures = self._textures(textured) if textured is not None else {}
        return materials, part_materials, textures

    def _has_texture(self, index: int) -> bool:
        entry = self._get("materials", index)
        pbr = entry.get("pbrMetallicRoughness", {})
        return any(k in pbr for k in ("baseColorTexture", "metallicRoughnessTexture")) or "normalTexture" in entry

    def _material(self, index: int) -> Material:
        entry = self._get("materials", index)
        pbr = entry.get("pbrMetallicRoughness", {})
        try:
            return Material(name=str(entry.get("name", f"material_{index}"))[:200],
                            base_color=tuple(float(c) for c in pbr.get("baseColorFactor", (1, 1, 1, 1))),
                            roughness=float(pbr.get("roughnessFactor", 1.0)),
                            metallic=float(pbr.get("metallicFactor", 1.0)))
        except (TypeError, ValueError) as exc:
            raise GLBError(f"material {index}: {exc}") from None

    def _textures(self, index: int) -> dict[str, np.ndarray]:
        entry = self._get("materials", index)
        pbr = entry.get("pbrMetallicRoughness", {})
        textures = {}
        base_color = self.texture_image(pbr.get("baseColorTexture"))
        if base_color is not None:
            textures["base_color"] = base_color
        packed = self.texture_image(pbr.get("metallicRoughnessTexture"))
        if packed is not None:
            textures["roughness"] = _grey(packed[:, :, 1])
            textures["metallic"] = _grey(packed[:, :, 2])
        normal = self.texture_image(entry.get("normalTexture"))
        if normal is not None:
            textures["normal"] = normal
        return textures


def _grey(channel: np.ndarray) -> np.ndarray:
    rgba = np.empty(channel.shape + (4,), dtype=np.uint8)
    rgba[:, :, :3] = channel[:, :, None]
    rgba[:, :, 3] = 255
    return rgba


def _mirrors(world: np.ndarray) -> bool:
    """A transform with negative determinant flips winding; faces are reversed to keep normals out."""
    return float(np.linalg.det(world[:3, :3])) < 0


def _local_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        values = node["matrix"]
        if not isinstance(values, list) or len(values) != 16:
            raise GLBError("node matrix must have 16 numbers")
        return np.array(values, dtype=np.float64).reshape(4, 4).T  # glTF is column-major
    t = np.array(node.get("translation", (0, 0, 0)), dtype=np.float64)
    x, y, z, w = (float(v) for v in node.get("rotation", (0, 0, 0, 1)))
    s = np.array(node.get("scale", (1, 1, 1)), dtype=np.float64)
    norm = math.sqrt(x * x + y * y + z * z + w * w) or 1.0
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    rotation = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                         [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                         [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * s[None, :]
    matrix[:3, 3] = t
    return matrix
