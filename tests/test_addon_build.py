"""build.py: manifest validation, wheel selection, and archives identical to Blender's own build."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import build

ROOT = Path(__file__).resolve().parents[1]
_BPY = importlib.util.find_spec("bpy")
BLENDER_EXT = next(Path(_BPY.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"), Path("-")) \
    if _BPY else Path("-")


def test_source_manifest_is_valid():
    data = build.read_manifest()
    assert data["id"] == "kiln" and data["license"] == ["SPDX:GPL-3.0-or-later"]
    assert "network" in data["permissions"]
    assert data["blender_version_min"] == "4.2.0" and data["blender_version_max"].startswith("6.")


@pytest.mark.parametrize("change, problem", [
    ({"tagline": "Makes assets."}, "punctuation"),
    ({"permissions": {}}, "permissions.network"),
    ({"wheels": ["./wheels/x.whl"]}, "must not list wheels"),
    ({"blender_version_min": "4.1.0"}, "4.2.0"),
    ({"platforms": ["linux-riscv"]}, "no wheel source"),
])
def test_manifest_problems_are_reported(change, problem):
    data = build.read_manifest() | change
    assert any(problem in p for p in build.validate_manifest(data)), build.validate_manifest(data)


@pytest.mark.parametrize("wheel, platform, python, fits", [
    ("pyzmq-27.3.0-cp311-cp311-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl", "linux-x64", "3.11", True),
    ("pyzmq-27.3.0-cp311-cp311-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl", "linux-x64", "3.13", False),
    ("pyzmq-27.3.0-cp312-abi3-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl", "linux-x64", "3.13", True),
    ("pyzmq-27.3.0-cp312-abi3-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl", "linux-x64", "3.11", False),
    ("pyzmq-27.3.0-cp311-cp311-macosx_10_15_universal2.whl", "macos-arm64", "3.11", True),
    ("pyzmq-27.3.0-cp311-cp311-macosx_10_15_universal2.whl", "macos-x64", "3.11", True),
    ("pyzmq-27.3.0-cp311-cp311-win_amd64.whl", "windows-x64", "3.11", True),
    ("pyzmq-27.3.0-cp311-cp311-win_amd64.whl", "linux-x64", "3.11", False),
    ("pyzmq-26.0.0-cp311-cp311-win_amd64.whl", "windows-x64", "3.11", False),
])
def test_wheel_selection(wheel, platform, python, fits):
    assert build.wheel_fits(wheel, platform, python) is fits


@pytest.fixture(scope="module")
def all_zips(tmp_path_factory):
    return build.build(build.read_manifest()["platforms"], tmp_path_factory.mktemp("dist"),
                       ROOT / "build" / "wheels", blender=None)


def test_every_platform_gets_its_wheels_for_python_311_and_313(all_zips):
    assert [p.name for p in all_zips] == ["kiln-0.1.0-linux_x64.zip", "kiln-0.1.0-macos_arm64.zip",
                                          "kiln-0.1.0-macos_x64.zip", "kiln-0.1.0-windows_x64.zip"]
    for path in all_zips:
        platform = path.stem.split("-")[-1].replace("_", "-")
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            manifest = tomllib.loads(archive.read("blender_manifest.toml").decode())
        wheels = [n.removeprefix("wheels/") for n in names if n.startswith("wheels/")]
        assert manifest["platforms"] == [platform]
        assert sorted(manifest["wheels"]) == sorted(f"./wheels/{w}" for w in wheels)
        for python in build.PYTHON_VERSIONS:
            assert any(build.wheel_fits(w, platform, python) for w in wheels), (platform, python, wheels)
        assert "shared/protocol.py" in names and "shared/payload.py" in names and "shared/client.py" in names
        assert "__init__.py" in names and not any("__pycache__" in n for n in names)


@pytest.mark.skipif(not BLENDER_EXT.exists(), reason="Blender's extension CLI ships with the bpy module")
def test_blender_validates_the_staged_extension_and_builds_the_same_files(tmp_path):
    wheels = build.wheels_for("linux-x64", ROOT / "build" / "wheels")
    source = tmp_path / "kiln"
    build.stage(source, "linux-x64", wheels, build.read_manifest())
    check = subprocess.run([sys.executable, str(BLENDER_EXT), "validate", str(source)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    theirs = tmp_path / "theirs.zip"
    made = subprocess.run([sys.executable, str(BLENDER_EXT), "build", "--source-dir", str(source),
                           "--output-filepath", str(theirs)], capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    ours = tmp_path / "ours.zip"
    build.zip_tree(source, ours)
    with zipfile.ZipFile(theirs) as a, zipfile.ZipFile(ours) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        for name in a.namelist():
            assert a.read(name) == b.read(name), name


def test_command_line_reports_a_bad_platform(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "build.py"), "--platform", "amiga-68k", "--out", str(tmp_path),
                           "--no-blender"], capture_output=True, text=True)
    assert proc.returncode == 1 and "amiga-68k" in proc.stderr and "choose from" in proc.stderr


@pytest.mark.skipif(not BLENDER_EXT.exists(), reason="Blender's extension CLI ships with the bpy module")
def test_with_a_blender_binary_the_archive_comes_from_blender_extension_build(tmp_path):
    """A 'blender' that only implements '--command extension build' by running Blender's own CLI."""
    shim = tmp_path / "blender"
    shim.write_text(f"""#!{sys.executable}
import subprocess, sys
args = sys.argv[1:]
assert args[:4] == ["--factory-startup", "--command", "extension", "build"], args
sys.exit(subprocess.call([sys.executable, {str(BLENDER_EXT)!r}, "build", *args[4:]]))
""")
    shim.chmod(0o755)
    with_blender = subprocess.run([sys.executable, str(ROOT / "build.py"), "--out", str(tmp_path / "a"),
                                   "--blender", str(shim)], capture_output=True, text=True)
    without = subprocess.run([sys.executable, str(ROOT / "build.py"), "--out", str(tmp_path / "b"),
                              "--no-blender"], capture_output=True, text=True)
    assert with_blender.returncode == 0 and without.returncode == 0, with_blender.stderr + without.stderr
    made_a, made_b = Path(with_blender.stdout.strip()), Path(without.stdout.strip())
    assert made_a.name == made_b.name == f"kiln-0.1.0-{build.current_platform().replace('-', '_')}.zip"
    with zipfile.ZipFile(made_a) as a, zipfile.ZipFile(made_b) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        assert all(a.read(n) == b.read(n) for n in a.namelist())
