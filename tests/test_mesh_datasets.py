"""Real-mesh readers (0 A.D. PMD, SuperTuxKart SPM) and package mesh discovery with its held-out rule."""
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from backend.datasets.pmd import PMDError, read_pmd
from backend.datasets.sources import (STK_ROOT, ZERO_AD_ROOT, MeshRef, caption, discover, is_held_out, load_mesh,
                                      split)
from backend.datasets.spm import SPMError, read_spm

TETRA = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
TETRA_FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])


def pmd_bytes(version: int, positions=TETRA, faces=TETRA_FACES, uv_sets: int = 1, bones=(), props=()) -> bytes:
    """A PMD file written from the format description (game coordinates, y up)."""
    body = struct.pack("<I", len(positions)) + (struct.pack("<I", uv_sets) if version >= 4 else b"")
    for i, p in enumerate(positions):
        body += struct.pack("<3f", *p) + struct.pack("<3f", 0, 1, 0)
        body += struct.pack(f"<{2 * uv_sets}f", *([0.25 * i, 0.5] * uv_sets))
        body += bytes([0 if bones else 0xFF, 0xFF, 0xFF, 0xFF]) + struct.pack("<4f", 1 if bones else 0, 0, 0, 0)
    body += struct.pack("<I", len(faces)) + np.asarray(faces, dtype="<u2").tobytes()
    body += struct.pack("<I", len(bones)) + b"".join(struct.pack("<7f", *b) for b in bones)
    if version >= 2:
        body += struct.pack("<I", len(props))
        for name in props:
            body += struct.pack("<I", len(name)) + name + struct.pack("<7f", 0, 0, 0, 0, 0, 0, 1) + b"\xff"
    return b"PSMD" + struct.pack("<II", version, len(body)) + body


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_read_pmd_versions(version):
    mesh = read_pmd(pmd_bytes(version, uv_sets=2 if version == 4 else 1, props=(b"root",) if version > 1 else ()))
    assert mesh.version == version and mesh.faces.tolist() == TETRA_FACES.tolist()
    # y up in the file -> z up: (x, y, z) -> (x, -z, y)
    assert np.allclose(mesh.positions, TETRA[:, [0, 2, 1]] * [1, -1, 1])
    assert np.allclose(mesh.normals, [0, 0, 1])
    assert mesh.uvs.shape == (4, 2 if version == 4 else 1, 2) and np.isclose(mesh.uvs[1, 0, 0], 0.25)


def test_read_pmd_version2_moves_skinned_vertices_into_the_rest_pose():
    half = np.sqrt(0.5)  # bone at (0, 5, 0), rotated 90 degrees about y
    mesh = read_pmd(pmd_bytes(2, bones=[(0, 5, 0, 0, half, 0, half)]))
    expected = TETRA @ np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]]).T + [0, 5, 0]
    assert np.allclose(mesh.positions, expected[:, [0, 2, 1]] * [1, -1, 1], atol=1e-6)


def test_read_pmd_rejects_bad_files():
    good = pmd_bytes(3)
    with pytest.raises(PMDError, match="magic"):
        read_pmd(b"NOPE" + good[4:])
    with pytest.raises(PMDError, match="version 7"):
        read_pmd(good[:4] + struct.pack("<I", 7) + good[8:])
    with pytest.raises(PMDError, match="size"):
        read_pmd(good[:-3])
    bad_face = pmd_bytes(3, faces=[[0, 1, 9]])
    with pytest.raises(PMDError, match="vertex 9"):
        read_pmd(bad_face)


def spm_bytes(kind: int = 2, colors: bool = False, textured: bool = True) -> bytes:
    """An SPM file from the loader's layout: one material, one section, one buffer (a tetrahedron)."""
    def packed_normal(n):
        parts = [int(round(v * 511)) & 1023 if v >= 0 else int(round(v * 512)) & 1023 for v in n]
        return parts[0] | parts[1] << 10 | parts[2] << 20
    flags = 1 | (2 if colors else 0)
    out = b"SP" + bytes([1 << 3 | kind, flags]) + struct.pack("<6f", 0, 0, 0, 1, 1, 1)
    out += struct.pack("<H", 1) + (bytes([7]) + b"tex.png" if textured else b"\x00") + b"\x00"
    out += struct.pack("<HHIIH", 1, 1, len(TETRA), TETRA_FACES.size, 0)
    for i, p in enumerate(TETRA):
        out += struct.pack("<3f", *p) + struct.pack("<I", packed_normal((0, 1, 0) if i else (0, -1, 0)))
        if colors:
            out += bytes([128]) if i % 2 else bytes([0, 255, 0, 0])
        if textured:
            out += np.array([0.5, 0.25 * i], dtype="<f2").tobytes()
        if kind == 1:
            out += struct.pack("<4h", 0, -1, -1, -1) + np.array([1, 0, 0, 0], dtype="<f2").tobytes()
    return out + TETRA_FACES.astype("u1").tobytes()


@pytest.mark.parametrize("kind,colors,textured", [(2, False, True), (2, True, True), (1, False, True), (2, False, False)])
def test_read_spm(kind, colors, textured):
    mesh = read_spm(spm_bytes(kind, colors, textured))
    assert mesh.kind == ("SPMN" if kind == 2 else "SPMA")
    assert mesh.faces.tolist() == TETRA_FACES.tolist()
    assert np.allclose(mesh.positions, TETRA[:, [0, 2, 1]] * [1, -1, 1])
    assert np.allclose(mesh.normals[1:], [0, 0, 1], atol=1e-3) and np.allclose(mesh.normals[0], [0, 0, -1], atol=1e-3)
    assert np.allclose(mesh.uvs[:, 1], [0, 0.25, 0.5, 0.75] if textured else 0)
    assert mesh.textures == (["tex.png"] if textured else [""])


def test_read_spm_rejects_bad_files():
    good = spm_bytes()
    with pytest.raises(SPMError, match="magic"):
        read_spm(b"XX" + good[2:])
    with pytest.raises(SPMError, match="version"):
        read_spm(b"SP" + bytes([2 << 3 | 2]) + good[3:])
    with pytest.raises(SPMError, match="kind"):
        read_spm(b"SP" + bytes([1 << 3 | 0]) + good[3:])
    with pytest.raises(SPMError, match="ends"):
        read_spm(good[:-5])


def test_held_out_rule_and_split():
    assert is_held_out("/usr/share/doc/libcgal-demo/examples/data/elephant.off")
    assert is_held_out("/usr/share/games/minetest/mods/homedecor/models/chair.obj")
    assert is_held_out("/home/x/.minetest/mods/anything/models/m.obj")
    assert not is_held_out("/usr/share/games/0ad/mods/public/public.zip/art/meshes/gaia/tree_oak.dae.cached.pmd")
    with pytest.raises(ValueError, match="held-out"):
        load_mesh(MeshRef("pymeshlab", "homedecor/models/chair.obj", "/x/homedecor/models/chair.obj"))
    refs = [MeshRef("0ad", f"art/meshes/props/p{i}.pmd", "/x.zip", f"p{i}") for i in range(2000)]
    sides = [split(r) for r in refs]
    assert sides == [split(r) for r in refs]  # deterministic
    assert 0.07 < sides.count("held_out") / len(sides) < 0.13


def test_captions_from_names():
    assert caption(MeshRef("0ad", "art/meshes/gaia/tree_oak.dae.cached.pmd", "z")) == "an oak tree"
    assert caption(MeshRef("0ad", "art/meshes/props/athen_shield_round_2.dae.cached.pmd", "z")) == "a round shield"
    assert caption(MeshRef("pybullet_data", "random_urdfs/739/739.obj", "z")) == "a random object"


def test_physics_proxies_are_helpers_not_meshes(tmp_path: Path):
    """SuperTuxKart's collision proxies (``*_physic.spm``, ``*_Physics2.spm``) are not art."""
    folder = tmp_path / "stk" / "library" / "tree"
    folder.mkdir(parents=True)
    for name in ("tree.spm", "tree_physic.spm", "tree_physics.spm", "fence_Physics2.spm"):
        (folder / name).write_bytes(b"")
    refs = discover(("supertuxkart",), stk_root=tmp_path / "stk")
    assert [Path(r.key).name for r in refs] == ["tree.spm"]


def test_discover_reads_a_zipped_mod_and_skips_helpers(tmp_path: Path):
    mod = tmp_path / "0ad" / "mods" / "public"
    mod.mkdir(parents=True)
    with zipfile.ZipFile(mod / "public.zip", "w") as archive:
        archive.writestr("art/meshes/props/crate.dae.cached.pmd", pmd_bytes(4))
        archive.writestr("art/meshes/temp/helper.dae.cached.pmd", pmd_bytes(4))
        archive.writestr("art/textures/skins/crate.png", b"png")
    refs = discover(("0ad",), zero_ad_root=tmp_path / "0ad")
    assert [r.key for r in refs] == ["art/meshes/props/crate.dae.cached.pmd"]
    vertices, faces = load_mesh(refs[0])
    assert vertices.shape == (4, 3) and faces.shape == (4, 3)
    with pytest.raises(ValueError, match="unknown mesh sources"):
        discover(("nope",))


@pytest.mark.skipif(not (ZERO_AD_ROOT / "mods").is_dir(), reason="Debian package 0ad-data is not installed")
def test_real_0ad_meshes_parse():
    refs = [r for r in discover(("0ad",)) if "/gaia/" in r.key][:20]
    assert refs
    for ref in refs:
        vertices, faces = load_mesh(ref)
        assert len(faces) > 0 and faces.max() < len(vertices) and np.isfinite(vertices).all()


@pytest.mark.skipif(not STK_ROOT.is_dir(), reason="Debian package supertuxkart-data is not installed")
def test_real_supertuxkart_meshes_parse():
    refs = discover(("supertuxkart",))[::60]
    assert refs
    for ref in refs:
        mesh = read_spm(ref.location)
        assert len(mesh.faces) > 0 and mesh.faces.max() < len(mesh.positions)


def box(lo=-0.5, hi=0.5):
    import trimesh
    mesh = trimesh.creation.box(extents=[hi - lo] * 3)
    return np.asarray(mesh.vertices) + (lo + hi) / 2, np.asarray(mesh.faces)


def test_solidify_a_closed_box_has_the_right_sign_and_distance():
    from backend.datasets.solidify import SolidConfig, solidify
    vertices, faces = box()
    solid = solidify(vertices, faces, SolidConfig(resolution=48, dense=40_000))
    # normalised: the box spans [-0.9, 0.9]; the solid is that box grown by one cell
    h = solid.cell
    values = solid.sdf(np.array([[0, 0, 0], [0, 0, 0.5], [0, 0, 0.9 + h], [0, 0, 0.99], [0.6, 0.2, 0.95]]))
    assert values[0] < -0.5 and values[1] < -0.2
    assert abs(values[2]) < 0.25 * h
    assert values[3] > 0 and abs(values[3] - (0.99 - 0.9 - h)) < 0.3 * h
    assert values[4] > 0


def test_solidify_thickens_an_open_sheet_and_seals_a_small_hole():
    from backend.datasets.solidify import SolidConfig, solidify
    sheet = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=float)
    solid = solidify(np.vstack([sheet, [[0, 0, 0.5]]]), np.array([[0, 1, 2], [0, 2, 3], [0, 1, 4]]),
                     SolidConfig(resolution=48, dense=40_000))
    z0 = (0 - solid.center[2]) * solid.scale  # the sheet's height after normalising
    assert solid.sdf(np.array([[0.1, -0.3, z0]]))[0] < 0, "the sheet itself is inside the thickened solid"
    assert abs(solid.sdf(np.array([[0.1, 0.5, z0 + 0.2]]))[0] - (0.2 - solid.cell)) < 0.3 * solid.cell
    vertices, faces = box()
    keep = np.ones(len(faces), bool)
    keep[0] = False  # one missing triangle: a hole as big as half a side, so the box is open
    open_box = solidify(vertices, faces[keep], SolidConfig(resolution=48, dense=40_000))
    assert open_box.sdf(np.zeros((1, 3)))[0] > 0, "a big hole lets the outside in"
    tiny_hole = solidify(*_box_with_pinhole(), SolidConfig(resolution=48, dense=60_000))
    assert tiny_hole.sdf(np.zeros((1, 3)))[0] < -0.5, "a hole narrower than a cell does not leak"


def _box_with_pinhole():
    import trimesh
    mesh = trimesh.creation.box(extents=[1, 1, 1])
    mesh = mesh.subdivide().subdivide().subdivide().subdivide()  # legs of 1/16 of a side
    hole = np.zeros(len(mesh.faces), bool)  # one triangle out: its inscribed circle is narrower than a cell
    hole[np.argmin(np.linalg.norm(mesh.triangles_center - [0, 0, 0.5], axis=1))] = True
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)[~hole]


def test_init_weights_reads_exported_and_run_checkpoints(tmp_path):
    import torch
    from backend.models.checkpoint import save_checkpoint
    from backend.models.shape_vae import ShapeVAE, VAEConfig
    from backend.train.loop import init_weights
    from backend.train.options import VAE_PRESETS

    torch.manual_seed(0)
    source, target = ShapeVAE(VAEConfig(**VAE_PRESETS["tiny"])), ShapeVAE(VAEConfig(**VAE_PRESETS["tiny"]))
    for prefix in ("vae", "model"):  # an exported model / a run's best, and a run's last
        save_checkpoint(tmp_path / prefix, {f"{prefix}.{k}": v for k, v in source.state_dict().items()}
                        | {"transformer.x": torch.zeros(1)}, {})
        init_weights(target, tmp_path / prefix, "vae")
        assert all(torch.equal(v, target.state_dict()[k]) for k, v in source.state_dict().items())
    with pytest.raises(Exception, match="do not match"):
        init_weights(ShapeVAE(VAEConfig(**VAE_PRESETS["s"])), tmp_path / "vae", "vae")


@pytest.mark.slow
def test_mesh_dataset_trains_with_procedural_data_from_an_initial_checkpoint(tmp_path):
    import trimesh
    from backend.datasets.mesh_dataset import write_mesh_dataset
    from backend.datasets.solidify import SolidConfig
    from backend.procedural.dataset import ProceduralDataset, write_dataset
    from backend.procedural.sample import SampleConfig
    from backend.train.data import open_dataset
    from backend.train.options import VAETrainConfig
    from backend.train.vae import train_vae

    for name, mesh in (("cube.obj", trimesh.creation.box()), ("ring.obj", trimesh.creation.annulus(0.3, 0.5, 0.2)),
                       ("flat.obj", trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]]))):
        mesh.export(tmp_path / name)
    refs = [MeshRef("pymeshlab", n, str(tmp_path / n)) for n in ("cube.obj", "flat.obj", "ring.obj")]
    small = SolidConfig(resolution=32, dense=20_000, surface=512, near=512, far=256)
    manifest = write_mesh_dataset(tmp_path / "meshes", refs, small, samples_per_shard=1)
    assert manifest["count"] == 2 and [s["mesh"] for s in manifest["skipped"]] == ["pymeshlab:flat.obj"]
    meshes = ProceduralDataset(tmp_path / "meshes")
    assert meshes[1]["captions"] == ["a ring"] and meshes[1]["attributes"]["licence"].startswith("GPL")
    write_dataset(tmp_path / "proc", 3, seed=1, categories=["mug"],
                  config=SampleConfig(surface=512, near=512, far=256, resolution=32, glb=False))
    joined = open_dataset(f"{tmp_path / 'proc'},{tmp_path / 'meshes'}")
    assert len(joined) == 5 and joined[0]["category"] == "mug" and joined[4]["category"] == "mesh:pymeshlab"

    fast = VAETrainConfig(steps=4, batch_size=2, num_points=256, num_near=64, num_far=32, num_surface=16,
                          eval_every=2, log_every=2, warmup=1, held_out=0.3)
    both = f"{tmp_path / 'proc'},{tmp_path / 'meshes'}"
    first = tmp_path / "first"
    train_vae(both, str(first), "tiny", fast)
    second = tmp_path / "second"
    train_vae(both, str(second), "tiny", VAETrainConfig(**{**fast.__dict__, "lr": 0.0}), init=str(first / "best"))
    from backend.models.checkpoint import read_tensors
    a, b = read_tensors(first / "best.safetensors"), read_tensors(second / "last.safetensors")
    assert len(a) > 10 and all(torch_equal(a[k], b["model." + k[4:]]) for k in a), "lr 0 after init keeps the weights"
    with pytest.raises(Exception, match="do not match"):
        train_vae(both, str(tmp_path / "third"), "s", fast, init=str(first / "last"))


def torch_equal(x, y) -> bool:
    import torch
    return bool(torch.equal(x, y))
