"""Mesh files <-> :class:`MeshPayload`: GLB/glTF, OBJ, PLY, OFF (and STL) in; GLB, OBJ, PLY out.

Polygons are kept for OBJ/PLY/OFF (a quad stays a quad). GLB/glTF goes through ``shared.glb``,
which converts glTF's Y-up to Blender's Z-up; OBJ/PLY/OFF are read and written as they are
(Z-up, as Blender's own OBJ/PLY exporters write with their "Z up" option). OBJ groups/objects and
``usemtl`` become parts; ``mtllib`` colours and ``map_Kd`` textures become materials.
"""
from __future__ import annotations

import io
import json
import os
import re
import struct
from pathlib import Path

import numpy as np

from backend.atomic_file import atomic_write
from shared.glb import GLBError, read_glb, read_gltf, write_glb
from shared.payload import ImagePayload, Material, MeshPayload
from shared.png import encode_png
from shared.protocol import ProtocolError

READ_FORMATS = (".glb", ".gltf", ".obj", ".ply", ".off", ".stl")
WRITE_FORMATS = (".glb", ".obj", ".ply")
IMAGE_FORMATS = (".png", ".jpg", ".jpeg", ".bmp", ".tga", ".webp")


class MeshIOError(ValueError):
    """A mesh file that cannot be read or written; the message names the file and the problem."""


def read_mesh(path: str | os.PathLike) -> MeshPayload:
    """Read a mesh file into a validated payload (Blender coordinates, polygons kept)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READ_FORMATS:
        raise MeshIOError(f"{path}: unsupported mesh format {suffix or '(none)'}; use one of {', '.join(READ_FORMATS)}")
    if not path.is_file():
        raise MeshIOError(f"{path}: no such file")
    try:
        mesh = _READERS[suffix](path)
        mesh.validate(path.name)
    except (GLBError, MeshIOError) as exc:
        raise MeshIOError(f"{path}: {exc}") from None
    except ProtocolError as exc:
        raise MeshIOError(f"{path}: {exc.message}") from None
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
        raise MeshIOError(f"{path}: malformed {suffix[1:].upper()} file ({exc})") from None
    mesh.info.setdefault("name", path.stem)
    return mesh


def write_mesh(path: str | os.PathLike, mesh: MeshPayload) -> Path:
    """Write a payload by extension (.glb triangulates; .obj/.ply keep polygons). Atomic replace."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise MeshIOError(f"{path}: cannot write {suffix or '(no extension)'}; use one of {', '.join(WRITE_FORMATS)}")
    try:
        mesh.validate("mesh")
    except ProtocolError as exc:
        raise MeshIOError(f"{path}: {exc.message}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".glb":
        atomic_write(path, write_glb(mesh))
    elif suffix == ".ply":
        atomic_write(path, _ply_bytes(mesh))
    else:
        _write_obj(path, mesh)
    return path


def read_image(path: str | os.PathLike) -> ImagePayload:
    """Read an image file (PNG, JPEG, ...) as uint8 RGBA, row 0 at the top."""
    path = Path(path)
    if not path.is_file():
        raise MeshIOError(f"{path}: no such file")
    try:
        return ImagePayload(_decode_image(path.read_bytes()), info={"name": path.stem})
    except OSError as exc:
        raise MeshIOError(f"{path}: not a readable image ({exc})") from None


def _decode_image(data: bytes, mime: str = "") -> np.ndarray:
    from PIL import Image  # Pillow: JPEG/WebP/TGA decoding that shared/png.py does not do

    with Image.open(io.BytesIO(data)) as image:
        return np.ascontiguousarray(np.asarray(image.convert("RGBA"), dtype=np.uint8))


# ----------------------------------------------------------------------------------------------
# GLB / glTF / STL

def _read_glb(path: Path) -> MeshPayload:
    return read_glb(path.read_bytes(), decode_image=_decode_image)


def _read_gltf(path: Path) -> MeshPayload:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MeshIOError(f"not valid glTF JSON ({exc})") from None
    root = path.parent.resolve()

    def load_uri(uri: str) -> bytes:
        from urllib.parse import unquote

        target = (root / unquote(uri)).resolve()
        if not target.is_file():
            raise MeshIOError(f"glTF refers to missing file {uri!r}")
        return target.read_bytes()

    return read_gltf(document, load_uri, decode_image=_decode_image)


def _read_stl(path: Path) -> MeshPayload:
    import trimesh  # STL has no polygons or parts: trimesh's reader is all we need

    loaded = trimesh.load(path, file_type="stl", force="mesh", process=False)
    return MeshPayload.from_triangles(loaded.vertices, loaded.faces)


# ----------------------------------------------------------------------------------------------
# OFF

def _read_off(path: Path) -> MeshPayload:
    lines = (line.split("#", 1)[0].split() for line in path.read_text(encoding="utf-8", errors="replace").splitlines())
    lines = [tokens for tokens in lines if tokens]
    if not lines or not lines[0][0].upper().endswith("OFF"):
        raise MeshIOError("missing OFF header")
    header = lines[0][1:] if len(lines[0]) > 1 else lines[1]
    start = 1 if len(lines[0]) > 1 else 2
    num_vertices, num_faces = int(header[0]), int(header[1])
    vertex_lines = lines[start:start + num_vertices]
    face_lines = lines[start + num_vertices:start + num_vertices + num_faces]
    if len(vertex_lines) != num_vertices or len(face_lines) != num_faces:
        raise MeshIOError(f"header promises {num_vertices} vertices and {num_faces} faces; file is shorter")
    positions = np.array([[float(v) for v in t[:3]] for t in vertex_lines], dtype=np.float32).reshape(-1, 3)
    sizes = np.array([int(t[0]) for t in face_lines], dtype=np.int32)
    indices = [int(v) for t, n in zip(face_lines, sizes) for v in t[1:1 + n]]
    if len(indices) != int(sizes.sum()):
        raise MeshIOError("a face line has fewer indices than its count")
    return MeshPayload(positions=positions, face_sizes=sizes, face_indices=np.array(indices, dtype=np.int32))


# ----------------------------------------------------------------------------------------------
# OBJ (+ MTL)

def _read_obj(path: Path) -> MeshPayload:
    positions, uvs, sizes, vertex_ids, uv_ids, face_parts = [], [], [], [], [], []
    parts: dict[tuple[str, str], int] = {}
    group, material, libraries = "", "", []
    any_uv = True
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            tokens = line.split()
            if not tokens:
                continue
            key = tokens[0]
            if key == "v":
                positions.append((float(tokens[1]), float(tokens[2]), float(tokens[3])))
            elif key == "vt":
                uvs.append((float(tokens[1]), float(tokens[2]) if len(tokens) > 2 else 0.0))
            elif key == "f":
                corners = tokens[1:]
                if len(corners) < 3:
                    raise MeshIOError(f"face with fewer than 3 corners: {line.strip()!r}")
                for corner in corners:
                    fields = corner.split("/")
                    vertex_ids.append(_obj_index(fields[0], len(positions)))
                    if len(fields) > 1 and fields[1]:
                        uv_ids.append(_obj_index(fields[1], len(uvs)))
                    else:
                        any_uv = False
                sizes.append(len(corners))
                face_parts.append(parts.setdefault((group, material), len(parts)))
            elif key in ("g", "o"):
                group = " ".join(tokens[1:]) or "default"
            elif key == "usemtl":
                material = " ".join(tokens[1:])
            elif key == "mtllib":
                libraries.append(" ".join(tokens[1:]))
    mesh = MeshPayload(positions=np.array(positions, dtype=np.float32).reshape(-1, 3),
                       face_sizes=np.array(sizes, dtype=np.int32),
                       face_indices=np.array(vertex_ids, dtype=np.int32))
    if any_uv and uvs and len(uv_ids) == len(vertex_ids):
        mesh.corner_uvs = np.array(uvs, dtype=np.float32)[np.array(uv_ids, dtype=np.int64)]
    library = {}
    for name in libraries:
        library.update(_read_mtl(path.parent / name))
    if len(parts) > 1 or any(g or m for g, m in parts):
        _obj_parts(mesh, parts, face_parts, library)
    return mesh


def _obj_index(token: str, count: int) -> int:
    index = int(token)
    index = index - 1 if index > 0 else count + index  # OBJ is 1-based; negatives count back
    if not 0 <= index < count:
        raise MeshIOError(f"index {token} refers to an element that does not exist (there are {count})")
    return index


def _obj_parts(mesh: MeshPayload, parts: dict, face_parts: list[int], library: dict) -> None:
    groups = [g for g, _ in parts]
    material_names = list(dict.fromkeys(m for _, m in parts if m))
    materials = [library.get(name, (Material(name=name), {}))[0] for name in material_names]
    textured = next((i for i, n in enumerate(material_names) if library.get(n, (None, {}))[1]), None)
    if textured is not None:
        materials.insert(0, materials.pop(textured))
        material_names.insert(0, material_names.pop(textured))
        mesh.textures = library[material_names[0]][1]
    mesh.part_names = [g or m or "default" if groups.count(g) == 1 else f"{g or 'default'}.{m or 'default'}"
                       for g, m in parts]
    if materials:
        if any(not m for _, m in parts):
            materials.append(Material(name="default"))
        mesh.part_materials = [material_names.index(m) if m else len(materials) - 1 for _, m in parts]
        mesh.materials = materials
    mesh.part_ids = np.array(face_parts, dtype=np.int32)


def _read_mtl(path: Path) -> dict[str, tuple[Material, dict]]:
    """Material name -> (Material, textures) from an MTL file; a missing file yields nothing."""
    if not path.is_file():
        return {}
    found: dict[str, tuple[Material, dict]] = {}
    current = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0] == "newmtl":
            current = Material(name=" ".join(tokens[1:]))
            found[current.name] = (current, {})
        elif current is None:
            continue
        elif tokens[0] == "Kd" and len(tokens) >= 4:
            current.base_color = (float(tokens[1]), float(tokens[2]), float(tokens[3]), current.base_color[3])
        elif tokens[0] == "d" and len(tokens) >= 2:
            current.base_color = current.base_color[:3] + (float(tokens[1]),)
        elif tokens[0] == "Pr" and len(tokens) >= 2:
            current.roughness = float(tokens[1])
        elif tokens[0] == "Pm" and len(tokens) >= 2:
            current.metallic = float(tokens[1])
        elif tokens[0] == "map_Kd" and len(tokens) >= 2:
            image_path = path.parent / tokens[-1]
            if image_path.is_file():
                found[current.name][1]["base_color"] = _decode_image(image_path.read_bytes())
    return found


def _write_obj(path: Path, mesh: MeshPayload) -> None:
    mtl_path = path.with_suffix(".mtl")
    lines = [f"# Kiln: {mesh.num_vertices} vertices, {mesh.num_faces} faces"]
    names = _unique_names([m.name for m in mesh.materials])
    if mesh.materials:
        lines.append(f"mtllib {mtl_path.name}")
    lines.extend(f"v {x:.7g} {y:.7g} {z:.7g}" for x, y, z in mesh.positions.tolist())
    if mesh.corner_uvs is not None:
        lines.extend(f"vt {u:.7g} {v:.7g}" for u, v in mesh.corner_uvs.tolist())
    offsets = mesh.face_offsets().tolist()
    indices = (mesh.face_indices + 1).tolist()
    part_ids = mesh.part_ids.tolist() if mesh.part_ids is not None else None
    current = None
    for face in range(mesh.num_faces):
        if part_ids is not None and part_ids[face] != current:
            current = part_ids[face]
            lines.append(f"o {mesh.part_names[current] if current < len(mesh.part_names) else 'part'}")
            if mesh.materials:
                slot = mesh.part_materials[current] if current < len(mesh.part_materials) else 0
                lines.append(f"usemtl {names[slot]}")
        elif part_ids is None and face == 0 and mesh.materials:
            lines.append(f"usemtl {names[0]}")
        start, end = offsets[face], offsets[face + 1]
        if mesh.corner_uvs is not None:
            lines.append("f " + " ".join(f"{indices[c]}/{c + 1}" for c in range(start, end)))
        else:
            lines.append("f " + " ".join(str(indices[c]) for c in range(start, end)))
    if mesh.materials:
        atomic_write(mtl_path, _mtl_text(mesh, names, path).encode("utf-8"))
    atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _mtl_text(mesh: MeshPayload, names: list[str], obj_path: Path) -> str:
    out = []
    for index, (material, name) in enumerate(zip(mesh.materials, names)):
        r, g, b, a = material.base_color
        out += [f"newmtl {name}", f"Kd {r:.6g} {g:.6g} {b:.6g}", f"d {a:.6g}",
                f"Pr {material.roughness:.6g}", f"Pm {material.metallic:.6g}"]
        if index == 0 and "base_color" in mesh.textures:
            texture = obj_path.with_name(f"{obj_path.stem}_base_color.png")
            atomic_write(texture, encode_png(mesh.textures["base_color"]))
            out.append(f"map_Kd {texture.name}")
        out.append("")
    return "\n".join(out)


def _obj_name(name: str) -> str:
    return re.sub(r"\s+", "_", name.strip()) or "part"


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        base = _obj_name(name)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.append(base if count == 0 else f"{base}_{count}")
    return result


# ----------------------------------------------------------------------------------------------
# PLY

_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}
_UV_NAMES = (("s", "t"), ("u", "v"), ("texture_u", "texture_v"), ("texture_s", "texture_t"))


def _read_ply(path: Path) -> MeshPayload:
    data = path.read_bytes()
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise MeshIOError("missing PLY header")
    body_start = data.index(b"\n", end) + 1
    header = data[:end].decode("ascii", errors="replace").splitlines()
    fmt, elements, part_names = None, [], []
    for line in header[1:]:
        tokens = line.split()
        if tokens[:2] == ["comment", "kiln_part_names"]:
            part_names = json.loads(line.split("kiln_part_names", 1)[1])
        if not tokens or tokens[0] in ("comment", "obj_info"):
            continue
        if tokens[0] == "format":
            fmt = tokens[1]
        elif tokens[0] == "element":
            elements.append((tokens[1], int(tokens[2]), []))
        elif tokens[0] == "property" and elements:
            if tokens[1] == "list":
                elements[-1][2].append((tokens[4], _ply_type(tokens[2]), _ply_type(tokens[3])))
            else:
                elements[-1][2].append((tokens[2], _ply_type(tokens[1]), None))
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise MeshIOError(f"unknown PLY format {fmt!r}")
    body = data[body_start:]
    if fmt == "ascii":
        values = _ply_ascii(body.split(), elements)
    else:
        values = _ply_binary(body, elements, "<" if fmt == "binary_little_endian" else ">")
    return _ply_mesh(values, part_names)


def _ply_type(name: str) -> str:
    if name not in _PLY_TYPES:
        raise MeshIOError(f"unknown PLY property type {name!r}")
    return _PLY_TYPES[name]


def _ply_ascii(tokens: list[bytes], elements) -> dict:
    values, pos = {}, 0
    for name, count, props in elements:
        if all(list_type is None for _, _, list_type in props):
            width = len(props)
            block = np.array(tokens[pos:pos + count * width], dtype=np.float64).reshape(count, width)
            pos += count * width
            values[name] = {p[0]: block[:, i] for i, p in enumerate(props)}
            continue
        columns: dict[str, list] = {p[0]: [] for p in props}
        for _ in range(count):
            for prop, _, list_type in props:
                if list_type is None:
                    columns[prop].append(float(tokens[pos]))
                    pos += 1
                else:
                    n = int(tokens[pos])
                    columns[prop].append([float(t) for t in tokens[pos + 1:pos + 1 + n]])
                    pos += 1 + n
        values[name] = columns
    if pos > len(tokens):
        raise MeshIOError("PLY body is shorter than its header says")
    return values


def _ply_binary(body: bytes, elements, order: str) -> dict:
    values, pos = {}, 0
    for name, count, props in elements:
        if all(list_type is None for _, _, list_type in props):
            dtype = np.dtype([(p, order + t) for p, t, _ in props])
            end = pos + dtype.itemsize * count
            if end > len(body):
                raise MeshIOError(f"PLY body ends inside element {name!r}")
            block = np.frombuffer(body, dtype=dtype, count=count, offset=pos)
            values[name] = {p: block[p] for p, _, _ in props}
            pos = end
        else:
            values[name], pos = _ply_binary_lists(body, pos, count, props, order)
    return values


def _ply_binary_lists(body: bytes, pos: int, count: int, props, order: str):
    """Elements with list properties: fast path when every list has the first row's length."""
    if count == 0:
        return {p: [] for p, _, _ in props}, pos
    fields, cursor = [], pos
    for prop, count_type, list_type in props:
        if list_type is None:
            fields.append((prop, order + count_type))
            cursor += np.dtype(count_type).itemsize
        else:
            n = int(np.frombuffer(body, dtype=order + count_type, count=1, offset=cursor)[0])
            fields += [(f"{prop}#n", order + count_type), (prop, order + list_type, (n,))] if n else \
                [(f"{prop}#n", order + count_type)]
            cursor += np.dtype(count_type).itemsize + n * np.dtype(list_type).itemsize
    dtype = np.dtype(fields)
    if pos + dtype.itemsize * count <= len(body):
        block = np.frombuffer(body, dtype=dtype, count=count, offset=pos)
        lists = [p for p, _, lt in props if lt is not None]
        if all((block[f"{p}#n"] == block[f"{p}#n"][0]).all() for p in lists):
            return {p: block[p] if p in block.dtype.names else np.zeros((count, 0))
                    for p, _, _ in props}, pos + dtype.itemsize * count
    columns: dict[str, list] = {p: [] for p, _, _ in props}
    for _ in range(count):
        for prop, count_type, list_type in props:
            size = np.dtype(count_type).itemsize
            if pos + size > len(body):
                raise MeshIOError("PLY body ends inside a face list")
            first = np.frombuffer(body, dtype=order + count_type, count=1, offset=pos)[0]
            pos += size
            if list_type is None:
                columns[prop].append(first)
                continue
            item = np.dtype(list_type).itemsize
            if pos + item * int(first) > len(body):
                raise MeshIOError("PLY body ends inside a face list")
            columns[prop].append(np.frombuffer(body, dtype=order + list_type, count=int(first), offset=pos))
            pos += item * int(first)
    return columns, pos


def _ply_mesh(values: dict, part_names: list) -> MeshPayload:
    vertex = values.get("vertex")
    if not vertex or not all(k in vertex for k in "xyz"):
        raise MeshIOError("PLY has no vertex element with x, y, z")
    positions = np.column_stack([np.asarray(vertex[k], dtype=np.float32) for k in "xyz"])
    face = values.get("face", {})
    key = "vertex_indices" if "vertex_indices" in face else "vertex_index"
    lists = face.get(key, [])
    if isinstance(lists, np.ndarray):
        sizes = np.full(len(lists), lists.shape[1] if lists.ndim == 2 else 0, dtype=np.int32)
        indices = lists.reshape(-1).astype(np.int64)
    else:
        sizes = np.array([len(f) for f in lists], dtype=np.int32)
        indices = np.concatenate([np.asarray(f, dtype=np.int64) for f in lists]) if lists else np.zeros(0, np.int64)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(positions)):
        raise MeshIOError(f"face indices out of range [0, {len(positions)})")
    mesh = MeshPayload(positions=positions, face_sizes=sizes, face_indices=indices.astype(np.int32))
    texcoord = face.get("texcoord")
    if texcoord is not None and len(texcoord) == len(sizes):
        flat = np.concatenate([np.asarray(t, dtype=np.float32).reshape(-1) for t in texcoord]) if len(sizes) else []
        if len(flat) == 2 * len(indices):
            mesh.corner_uvs = np.asarray(flat, dtype=np.float32).reshape(-1, 2)
    if mesh.corner_uvs is None:
        for u, v in _UV_NAMES:
            if u in vertex and v in vertex:
                per_vertex = np.column_stack([np.asarray(vertex[u]), np.asarray(vertex[v])]).astype(np.float32)
                mesh.corner_uvs = per_vertex[mesh.face_indices]
                break
    if "part_id" in face and len(face["part_id"]) == len(sizes):
        part_ids = np.asarray(face["part_id"], dtype=np.int32)
        if len(part_ids) and part_ids.min() >= 0:
            mesh.part_ids = part_ids
            count = int(part_ids.max(initial=0)) + 1
            names = [str(n) for n in part_names] if isinstance(part_names, list) else []
            mesh.part_names = names if len(names) >= count else [f"part_{i}" for i in range(count)]
    return mesh


def _ply_bytes(mesh: MeshPayload) -> bytes:
    """Binary little-endian PLY: vertex x y z; face vertex_indices (+ part_id, + texcoord)."""
    sizes = mesh.face_sizes.astype(np.int64)
    count_type = "uchar" if sizes.max(initial=3) <= 127 else "int"  # texcoord lists hold 2 per corner
    count_bytes = 1 if count_type == "uchar" else 4
    with_parts = mesh.part_ids is not None
    with_uv = mesh.corner_uvs is not None
    header = ["ply", "format binary_little_endian 1.0", "comment written by Kiln",
              f"comment kiln_part_names {json.dumps(mesh.part_names)}",
              f"element vertex {mesh.num_vertices}", "property float x", "property float y", "property float z",
              f"element face {mesh.num_faces}", f"property list {count_type} int vertex_indices"]
    if with_parts:
        header.append("property int part_id")
    if with_uv:
        header.append(f"property list {count_type} float texcoord")
    header.append("end_header")
    record = count_bytes + 4 * sizes + (4 if with_parts else 0) + ((count_bytes + 8 * sizes) if with_uv else 0)
    starts = np.concatenate([[0], np.cumsum(record)[:-1]]).astype(np.int64)
    out = np.zeros(int(record.sum()), dtype=np.uint8)
    face_of_corner = np.repeat(np.arange(len(sizes)), sizes)
    corner_in_face = np.arange(len(face_of_corner)) - mesh.face_offsets()[:-1][face_of_corner]
    count_dtype = "<u1" if count_bytes == 1 else "<i4"

    def put(dest_starts: np.ndarray, values: np.ndarray, width: int) -> None:
        raw = np.ascontiguousarray(values).view(np.uint8).reshape(-1, width)
        out[dest_starts[:, None] + np.arange(width)] = raw

    put(starts, sizes.astype(count_dtype), count_bytes)
    put(starts[face_of_corner] + count_bytes + 4 * corner_in_face, mesh.face_indices.astype("<i4"), 4)
    after = starts + count_bytes + 4 * sizes
    if with_parts:
        put(after, mesh.part_ids.astype("<i4"), 4)
        after = after + 4
    if with_uv:
        put(after, (2 * sizes).astype(count_dtype), count_bytes)
        put(after[face_of_corner] + count_bytes + 8 * corner_in_face, mesh.corner_uvs.astype("<f4"), 8)
    text = ("\n".join(header) + "\n").encode("ascii")
    return text + mesh.positions.astype("<f4").tobytes() + out.tobytes()


_READERS = {".glb": _read_glb, ".gltf": _read_gltf, ".obj": _read_obj, ".ply": _read_ply,
            ".off": _read_off, ".stl": _read_stl}
