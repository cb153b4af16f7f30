"""shared/png.py and shared/glb.py: numpy-only codecs checked against Pillow and trimesh."""
import io
import json
import struct

import numpy as np
import pytest
import trimesh
from PIL import Image

from shared.glb import GLBError, read_glb, write_glb
from shared.payload import MeshPayload
from shared.png import PNGError, decode_png, encode_png
from tests.platform_helpers.meshes import quad_box, sample_mesh_dir


def test_png_round_trip_and_pillow_agree():
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (37, 23, 4), dtype=np.uint8)
    data = encode_png(rgba)
    assert np.array_equal(decode_png(data), rgba)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")), rgba)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P"])
def test_png_decodes_pillow_files_with_every_filter(mode):
    # A smooth gradient makes Pillow's adaptive filtering pick Sub/Up/Average/Paeth rows.
    y, x = np.mgrid[0:40, 0:50]
    base = np.stack([x * 5, y * 6, (x + y) * 2, 255 - x], axis=-1).astype(np.uint8)
    image = Image.fromarray(base, "RGBA").convert(mode)
    expected = np.asarray(image.convert("RGBA"))
    assert np.array_equal(decode_png(_save(image)), expected)


def _save(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_png_16_bit_keeps_high_byte():
    values = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    data = _save(Image.fromarray(values.astype(np.uint16)))
    assert np.array_equal(decode_png(data)[:, :, 0], (values >> 8).astype(np.uint8))


def test_png_rejects_garbage_and_truncation():
    with pytest.raises(PNGError, match="signature"):
        decode_png(b"GIF89a....")
    data = encode_png(np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(PNGError):
        decode_png(data[:40])


def test_glb_round_trip_keeps_parts_materials_uvs_textures():
    mesh = quad_box(textures=True)
    mesh.info = {"name": "box", "report": {"faces": 6}}
    back = read_glb(write_glb(mesh))
    assert back.num_faces == 12 and set(back.face_sizes.tolist()) == {3}
    assert back.num_vertices == 8  # split-by-UV vertices are welded again
    assert back.part_names == ["lid and base", "sides"]
    assert [m.name for m in back.materials] == ["wood", "metal"]
    assert back.materials[1].metallic == 1.0 and back.materials[0].roughness == pytest.approx(0.7)
    assert np.array_equal(back.textures["base_color"], mesh.textures["base_color"])
    assert np.array_equal(back.textures["normal"], mesh.textures["normal"])
    assert back.info == mesh.info
    # Each output triangle's corners carry the same UVs and positions as the source polygon's.
    src_tri = mesh.positions[mesh.triangulated()]
    src_uv = mesh.corner_uvs[mesh.triangulated_corners()]
    got_tri = back.positions[back.triangulated()]
    got_uv = back.corner_uvs.reshape(-1, 3, 2)
    key = lambda tri, uv: sorted(map(tuple, np.round(np.concatenate([tri, uv], axis=-1).reshape(len(tri), -1), 5)))
    assert key(src_tri, src_uv) == key(got_tri, got_uv)
    assert np.bincount(back.part_ids).tolist() == [4, 8]


def test_glb_is_y_up_for_other_tools_and_trimesh_agrees():
    mesh = MeshPayload.from_triangles([[0, 0, 0], [1, 0, 0], [0, 0, 3]], [[0, 1, 2]])
    scene = trimesh.load(io.BytesIO(write_glb(mesh)), file_type="glb")
    (geometry,) = scene.geometry.values()
    assert geometry.vertices[:, 1].max() == pytest.approx(3.0)  # Blender Z is glTF Y
    # Winding survives: the normal points along Blender -Y, i.e. glTF +Z.
    assert geometry.face_normals[0] == pytest.approx([0, 0, 1])


def test_glb_reads_foreign_file_with_node_transforms():
    box = trimesh.creation.box(extents=(1, 2, 3))
    scene = trimesh.Scene()
    scene.add_geometry(box, node_name="moved", transform=trimesh.transformations.translation_matrix([10, 0, 0]))
    mesh = read_glb(scene.export(file_type="glb"))
    assert mesh.part_names == ["moved"]
    assert mesh.positions[:, 0].min() == pytest.approx(9.5)
    # glTF Y extent (2) becomes Blender Z, glTF Z (3) becomes Blender -Y.
    assert np.ptp(mesh.positions[:, 2]) == pytest.approx(2.0)
    assert np.ptp(mesh.positions[:, 1]) == pytest.approx(3.0)


def test_glb_reads_textured_bunny_exported_by_trimesh():
    bunny = trimesh.load(sample_mesh_dir() / "bunny10k_textured.obj", process=False)
    mesh = read_glb(bunny.export(file_type="glb"))
    assert mesh.corner_uvs is not None and "base_color" in mesh.textures
    assert mesh.textures["base_color"].shape[2] == 4


def _glb_with(document: dict, binary: bytes = b"") -> bytes:
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    if binary:
        body += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


def test_glb_bad_input_gets_clear_errors():
    good = write_glb(quad_box())
    with pytest.raises(GLBError, match="magic"):
        read_glb(b"x" * 40)
    with pytest.raises(GLBError, match="truncated"):
        read_glb(good[:-40])
    positions = np.zeros((3, 3), np.float32).tobytes()
    indices = np.array([0, 1, 7], np.uint32).tobytes()
    doc = {"asset": {"version": "2.0"}, "buffers": [{"byteLength": 48}],
           "bufferViews": [{"buffer": 0, "byteLength": 36}, {"buffer": 0, "byteOffset": 36, "byteLength": 12}],
           "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"},
                         {"bufferView": 1, "componentType": 5125, "count": 3, "type": "SCALAR"}],
           "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}], "nodes": [{"mesh": 0}]}
    with pytest.raises(GLBError, match="out of range"):
        read_glb(_glb_with(doc, positions + indices))
    doc["accessors"][0]["count"] = 30
    with pytest.raises(GLBError, match="past the end"):
        read_glb(_glb_with(doc, positions + indices))
    with pytest.raises(GLBError, match="extensions"):
        read_glb(_glb_with({**doc, "extensionsRequired": ["KHR_draco_mesh_compression"]}, positions + indices))
    with pytest.raises(GLBError, match="no triangle meshes"):
        read_glb(_glb_with({"asset": {"version": "2.0"}, "nodes": [{"name": "empty"}]}))


def _filtered_png(rgba: np.ndarray) -> bytes:
    """A PNG whose row y uses filter type y % 5 (None, Sub, Up, Average, Paeth), built by hand."""
    import zlib

    height, width, _ = rgba.shape
    raw = rgba.reshape(height, -1).astype(np.int32)
    rows = []
    for y in range(height):
        line = raw[y]
        prior = raw[y - 1] if y else np.zeros_like(line)
        left = np.concatenate([np.zeros(4, np.int32), line[:-4]])
        upleft = np.concatenate([np.zeros(4, np.int32), prior[:-4]])
        kind = y % 5
        if kind == 0:
            predictor = np.zeros_like(line)
        elif kind == 1:
            predictor = left
        elif kind == 2:
            predictor = prior
        elif kind == 3:
            predictor = (left + prior) // 2
        else:
            p = left + prior - upleft
            pa, pb, pc = abs(p - left), abs(p - prior), abs(p - upleft)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prior, upleft))
        rows.append(bytes([kind]) + ((line - predictor) & 255).astype(np.uint8).tobytes())
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def test_png_decodes_every_filter_type():
    rgba = np.random.default_rng(3).integers(0, 256, (11, 9, 4), dtype=np.uint8)
    data = _filtered_png(rgba)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")), rgba)  # the file is valid
    assert np.array_equal(decode_png(data), rgba)


def test_unique_rows_matches_numpy():
    from shared.glb import unique_rows

    keys = np.random.default_rng(4).integers(-3, 3, (2000, 3)).astype(np.int32)
    rows, inverse = unique_rows(keys)
    assert len(rows) == len(np.unique(keys, axis=0))
    assert np.array_equal(rows[inverse], keys)


def test_smooth_groups_split_at_sharp_edges_only():
    from shared.normals import smooth_groups

    box = quad_box(uvs=False, parts=False)
    tris = box.triangulated()
    group, normals, vertex = smooth_groups(box.positions, tris, 30.0)
    assert len(normals) == 24  # 6 flat sides x 4 corners; the quads' diagonals are not split
    p = box.positions[tris].astype(np.float64)
    face_normals = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    face_normals /= np.linalg.norm(face_normals, axis=1, keepdims=True)
    assert np.allclose(normals[group], np.repeat(face_normals, 3, axis=0), atol=1e-6)
    assert np.array_equal(vertex[group], tris.reshape(-1))
    assert len(smooth_groups(box.positions, tris, 180.0)[1]) == 8  # everything smooth: one per vertex

    sphere = trimesh.creation.icosphere(subdivisions=2)
    group, normals, vertex = smooth_groups(sphere.vertices, sphere.faces, 30.0)
    assert len(normals) == len(sphere.vertices)
    radial = sphere.vertices[vertex] / np.linalg.norm(sphere.vertices[vertex], axis=1, keepdims=True)
    assert (np.sum(normals * radial, axis=1) > 0.99).all()
    assert len(smooth_groups(sphere.vertices, sphere.faces, 0.0)[1]) == 3 * len(sphere.faces)


def test_glb_carries_normals_that_other_tools_read():
    scene = trimesh.load(io.BytesIO(write_glb(quad_box(uvs=False, parts=False))), file_type="glb", process=False)
    (geometry,) = scene.geometry.values()
    assert len(geometry.vertices) == 24
    assert np.allclose(geometry.vertex_normals[geometry.faces[:, 0]], geometry.face_normals, atol=1e-6)


def test_glb_info_with_nan_and_numpy_values_is_written():
    mesh = quad_box()
    mesh.info = {"metric": float("nan"), "count": np.int32(4)}
    assert read_glb(write_glb(mesh)).info == {"metric": None, "count": 4}
