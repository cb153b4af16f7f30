"""backend/meshio.py: real files in and out, polygons kept, clear errors for bad files."""
import numpy as np
import pytest
import trimesh

from backend.meshio import MeshIOError, read_image, read_mesh, write_mesh
from shared.png import encode_png
from tests.platform_helpers.meshes import quad_box, sample_mesh_dir


@pytest.mark.parametrize("name", ["bunny.obj", "cow.obj", "bone.ply", "colored_airplane.ply", "airplane.obj"])
def test_reads_sample_meshes_like_trimesh(name):
    path = sample_mesh_dir() / name
    mesh = read_mesh(path)
    reference = trimesh.load(path, process=False, force="mesh")
    assert mesh.num_faces == len(reference.faces)
    # trimesh drops unreferenced vertices, so compare the triangles' corner positions.
    assert np.allclose(mesh.positions[mesh.triangulated()], reference.vertices[reference.faces], atol=1e-5)
    assert mesh.info["name"] == path.stem


def test_reads_textured_obj_with_mtl_and_texture():
    mesh = read_mesh(sample_mesh_dir() / "bunny10k_textured.obj")
    assert mesh.corner_uvs is not None and mesh.corner_uvs.shape == (len(mesh.face_indices), 2)
    assert mesh.materials[0].base_color[:3] == pytest.approx((0.6, 0.6, 0.6))
    assert mesh.textures["base_color"].dtype == np.uint8


@pytest.mark.parametrize("suffix", [".obj", ".ply"])
def test_polygon_formats_keep_quads_parts_and_uvs(tmp_path, suffix):
    box = quad_box(textures=suffix == ".obj")
    back = read_mesh(write_mesh(tmp_path / f"box{suffix}", box))
    assert back.face_sizes.tolist() == [4] * 6
    assert np.array_equal(back.face_indices, box.face_indices)
    assert np.allclose(back.positions, box.positions)
    assert np.allclose(back.corner_uvs, box.corner_uvs)
    assert back.part_names == box.part_names
    assert np.array_equal(back.part_ids, box.part_ids)
    if suffix == ".obj":
        assert [m.name for m in back.materials] == ["wood", "metal"]
        assert np.array_equal(back.textures["base_color"], box.textures["base_color"])


def test_mixed_polygon_sizes_survive_ply_and_obj(tmp_path):
    box = quad_box(parts=False, uvs=False)
    # Replace the top quad with a pentagon through a new vertex and split the bottom into triangles.
    box.positions = np.vstack([box.positions, [[1, 0.5, 1.5]]]).astype(np.float32)
    box.face_sizes = np.array([3, 3, 5, 4, 4, 4, 4], dtype=np.int32)
    box.face_indices = np.array([0, 2, 3, 0, 3, 1, 4, 5, 7, 8, 6, 0, 1, 5, 4, 2, 6, 7, 3,
                                 0, 4, 6, 2, 1, 3, 7, 5], dtype=np.int32)
    for suffix in (".ply", ".obj"):
        back = read_mesh(write_mesh(tmp_path / f"mixed{suffix}", box))
        assert back.face_sizes.tolist() == box.face_sizes.tolist()
        assert np.array_equal(back.face_indices, box.face_indices)


def test_glb_file_converts_to_blender_axes(tmp_path):
    path = write_mesh(tmp_path / "box.glb", quad_box())
    loaded = trimesh.load(path)
    extents = loaded.bounds[1] - loaded.bounds[0]
    assert extents == pytest.approx([2, 1, 1])  # x stays, Blender z (1) -> glTF y, y (1) -> z
    back = read_mesh(path)
    assert np.allclose(np.sort(back.positions, axis=0), np.sort(quad_box().positions, axis=0))


def test_gltf_with_external_buffer(tmp_path):
    scene = trimesh.Scene(trimesh.creation.icosphere(subdivisions=1))
    files = scene.export(file_type="gltf")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    mesh = read_mesh(tmp_path / "model.gltf")
    assert mesh.num_faces == 80


def test_off_reader(tmp_path):
    path = tmp_path / "quad.off"
    path.write_text("OFF\n# a comment\n5 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n4 0 1 2 3\n3 0 1 4\n")
    mesh = read_mesh(path)
    assert mesh.face_sizes.tolist() == [4, 3]
    assert mesh.face_indices.tolist() == [0, 1, 2, 3, 0, 1, 4]


@pytest.mark.parametrize("name, text, match", [
    ("bad.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "does not exist"),
    ("nan.obj", "v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "NaN"),
    ("empty.obj", "# nothing here\n", "empty"),
    ("short.off", "OFF\n4 2 0\n0 0 0\n", "shorter"),
    ("range.ply", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                  "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 5\n",
     "out of range"),
    ("trunc.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 300\nproperty float x\nproperty float y\n"
                  "property float z\nend_header\n\0\0\0\0", "ends inside"),
    ("mesh.xyz", "1 2 3\n", "unsupported mesh format"),
    ("bad.glb", "not a glb at all, definitely not", "magic"),
])
def test_bad_files_get_clear_errors(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MeshIOError, match=match) as info:
        read_mesh(path)
    assert name in str(info.value)


def test_missing_file_and_bad_output_extension(tmp_path):
    with pytest.raises(MeshIOError, match="no such file"):
        read_mesh(tmp_path / "nope.obj")
    with pytest.raises(MeshIOError, match="cannot write"):
        write_mesh(tmp_path / "out.stl", quad_box())
    assert not (tmp_path / "out.stl").exists()


def test_read_image(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    (tmp_path / "in.png").write_bytes(encode_png(pixels))
    assert np.array_equal(read_image(tmp_path / "in.png").pixels, pixels)
