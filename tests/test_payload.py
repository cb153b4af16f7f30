"""shared/payload.py: the mesh/image wire layout and its validation."""
import numpy as np
import pytest

from shared.payload import ImagePayload, Material, MeshPayload, pack_payloads, unpack_payloads
from shared.protocol import ErrorCode, ProtocolError, decode_message, encode_message
from tests.platform_helpers.meshes import quad_box


def _through_wire(payloads):
    described, buffers = pack_payloads(payloads)
    header, arrays = decode_message(encode_message({"type": "x", "inputs": described}, buffers))
    return unpack_payloads(header["inputs"], arrays)


def test_mesh_and_image_survive_the_wire_exactly():
    box = quad_box(textures=True)
    box.info = {"name": "box"}
    image = ImagePayload(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
    back = _through_wire({"mesh": box, "image": image})
    mesh = back["mesh"]
    for attr in ("positions", "face_sizes", "face_indices", "corner_uvs", "part_ids"):
        assert np.array_equal(getattr(mesh, attr), getattr(box, attr))
    assert mesh.part_names == box.part_names and mesh.materials == box.materials
    assert mesh.part_materials == box.part_materials and mesh.info == box.info
    assert np.array_equal(mesh.textures["base_color"], box.textures["base_color"])
    assert np.array_equal(back["image"].pixels, image.pixels)


def test_triangulation_keeps_corners_in_step():
    box = quad_box()
    tris = box.triangulated()
    assert tris.shape == (12, 3)
    assert np.array_equal(box.face_indices[box.triangulated_corners()], tris)
    assert np.array_equal(box.triangle_face_ids(), np.repeat(np.arange(6), 2))


def _bad(mesh, match):
    with pytest.raises(ProtocolError, match=match) as info:
        mesh.validate("mesh")
    assert info.value.code == ErrorCode.BAD_REQUEST


def test_validation_catches_bad_meshes():
    box = quad_box()
    nan = quad_box()
    nan.positions[0, 0] = np.nan
    _bad(nan, "NaN")
    out = quad_box()
    out.face_indices[3] = 99
    _bad(out, "out of range")
    _bad(MeshPayload(np.zeros((0, 3), np.float32), np.zeros(0, np.int32), np.zeros(0, np.int32)), "empty")
    wrong = quad_box()
    wrong.positions = wrong.positions.astype(np.float64)
    _bad(wrong, "float32")
    sizes = quad_box()
    sizes.face_sizes[0] = 5
    _bad(sizes, "sum")
    two = quad_box()
    two.face_sizes[0] = 2
    _bad(two, "at least 3")
    parts = quad_box()
    parts.part_ids[0] = 7
    _bad(parts, "part_ids")
    mats = quad_box()
    mats.part_materials = [0, 5]
    _bad(mats, "part_materials")
    box.validate("mesh")


def test_unpack_rejects_inconsistent_descriptions():
    described, buffers = pack_payloads({"mesh": quad_box()})
    arrays = dict(buffers)
    with pytest.raises(ProtocolError, match="missing buffer"):
        unpack_payloads(described, {k: v for k, v in arrays.items() if not k.endswith("positions")})
    with pytest.raises(ProtocolError, match="not described"):
        unpack_payloads(described, {**arrays, "other.positions": arrays["mesh.positions"]})
    with pytest.raises(ProtocolError, match="kind"):
        unpack_payloads({"mesh": {"kind": "cloud"}}, arrays)
    with pytest.raises(ProtocolError, match="material"):
        unpack_payloads({"mesh": {**described["mesh"], "materials": [{"base_color": "red"}]}}, arrays)
    assert Material.from_json({"base_color": [1, 0, 0]}).base_color == (1.0, 0.0, 0.0, 1.0)
