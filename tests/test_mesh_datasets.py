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
