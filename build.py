#!/usr/bin/env python3
"""Build the Kiln Blender extension: ``dist/kiln-<version>-<platform>.zip``.

The extension is ``blender_addon/`` plus a vendored copy of ``shared/`` (so the add-on is
self-contained) plus the pyzmq wheels for the target platform, for Python 3.11 (Blender 4.2-5.0)
and 3.13 (Blender 5.1+). Wheels come from PyPI through ``pip download`` and are cached in
``build/wheels``; a cached wheel is reused without touching the network.

When a ``blender`` binary is on PATH the archive is made by ``blender --command extension build``;
otherwise this script writes the same archive itself (same files, same layout).

    python build.py                 # the current platform
    python build.py --all           # every platform in the manifest
    python build.py --platform windows-x64 --out /tmp/dist
"""
from __future__ import annotations

import argparse
import fnmatch
import platform as platform_module
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ADDON_DIR = ROOT / "blender_addon"
SHARED_DIR = ROOT / "shared"
MANIFEST_NAME = "blender_manifest.toml"

PYZMQ_VERSION = "27.3.0"
PYTHON_VERSIONS = ("3.11", "3.13")
# Blender platform -> the pip ``--platform`` tag used to download its wheel.
PIP_PLATFORMS = {
    "linux-x64": "manylinux_2_28_x86_64",
    "macos-arm64": "macosx_11_0_arm64",
    "macos-x64": "macosx_10_15_x86_64",
    "windows-x64": "win_amd64",
}
REQUIRED_FIELDS = ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                   "blender_version_min", "license", "platforms")
TERSE_MAX = 64


class BuildError(Exception):
    """A build problem with a message that says what to fix."""


# ------------------------------------------------------------------------------------------
# Manifest

def read_manifest(path: Path = ADDON_DIR / MANIFEST_NAME) -> dict:
    """Parse and validate the source manifest; raise BuildError listing every problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read {path}: {exc}") from None
    problems = validate_manifest(data)
    if problems:
        raise BuildError(f"{path} is not a valid extension manifest:\n  " + "\n  ".join(problems))
    return data


def validate_manifest(data: dict) -> list[str]:
    """The problems Blender's extension validator would report for the fields Kiln uses."""
    problems = [f"missing field {name!r}" for name in REQUIRED_FIELDS if name not in data]
    if problems:
        return problems
    if data["id"] != "kiln":
        problems.append(f"id must be 'kiln', found {data['id']!r}")
    if data["type"] != "add-on":
        problems.append("type must be 'add-on'")
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(data["version"])):
        problems.append(f"version must be semantic (X.Y.Z), found {data['version']!r}")
    for key in ("blender_version_min", "blender_version_max"):
        if key in data and not re.fullmatch(r"\d+\.\d+\.\d+", str(data[key])):
            problems.append(f"{key} must be X.Y.Z, found {data[key]!r}")
    if tuple(int(p) for p in str(data["blender_version_min"]).split(".")) < (4, 2, 0):
        problems.append("blender_version_min must be 4.2.0 or later (extensions need 4.2)")
    if data["license"] != ["SPDX:GPL-3.0-or-later"]:
        problems.append("license must be ['SPDX:GPL-3.0-or-later']")
    problems += _terse_problems("tagline", data["tagline"])
    permissions = data.get("permissions", {})
    if "network" not in permissions:
        problems.append("permissions.network must be declared: the add-on talks to the backend")
    for key, text in permissions.items():
        problems += _terse_problems(f"permissions.{key}", text)
    unknown = sorted(set(data["platforms"]) - set(PIP_PLATFORMS))
    if unknown:
        problems.append(f"platforms {unknown} have no wheel source; known: {sorted(PIP_PLATFORMS)}")
    if "wheels" in data:
        problems.append("the source manifest must not list wheels; build.py adds them per platform")
    return problems


def _terse_problems(field: str, value) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        return [f"{field} must be a non-empty string"]
    if len(value) > TERSE_MAX:
        return [f"{field} is {len(value)} characters; at most {TERSE_MAX}"]
    if not (value[-1].isalnum() or value[-1] in ")]}"):
        return [f"{field} must not end with punctuation"]
    return []


def manifest_for_platform(text: str, platform: str, wheel_names: list[str]) -> str:
    """The source manifest text with ``platforms`` narrowed to one platform and its wheels listed."""
    line = re.compile(r"^platforms\s*=.*$", re.MULTILINE)
    if len(line.findall(text)) != 1:
        raise BuildError("the manifest needs exactly one single-line 'platforms = [...]'")
    wheels = ", ".join(f'"./wheels/{name}"' for name in wheel_names)
    result = line.sub(f'platforms = ["{platform}"]\nwheels = [{wheels}]', text)
    tomllib.loads(result)
    return result


# ------------------------------------------------------------------------------------------
# Wheels

def wheel_fits(filename: str, platform: str, python: str) -> bool:
    """True if a pyzmq wheel file installs on Blender ``platform`` with Python ``python`` (e.g. '3.11')."""
    parts = filename[:-4].split("-")
    if len(parts) < 5 or parts[0] != "pyzmq" or parts[1] != PYZMQ_VERSION:
        return False
    py_tag, abi_tag, plat_tag = parts[-3:]
    want = int(python.split(".")[1])
    minor = int(py_tag[3:]) if py_tag.startswith("cp3") and py_tag[3:].isdigit() else None
    if minor is None:
        return False
    if not (minor == want and abi_tag == py_tag or abi_tag == "abi3" and minor <= want):
        return False
    system, arch = platform.split("-")
    tags = plat_tag.split(".")
    if system == "linux":
        return any(t.startswith("manylinux") and t.endswith("_x86_64") for t in tags) and arch == "x64"
    if system == "windows":
        return "win_amd64" in tags and arch == "x64"
    if system == "macos":
        suffix = "_arm64" if arch == "arm64" else "_x86_64"
        return any(t.startswith("macosx") and (t.endswith(suffix) or t.endswith("_universal2")) for t in tags)
    return False


def fetch_wheel(platform: str, python: str, cache: Path) -> Path:
    """A pyzmq wheel for (platform, python): from ``cache`` if there, else downloaded with pip."""
    cache.mkdir(parents=True, exist_ok=True)
    for path in sorted(cache.glob("*.whl")):
        if wheel_fits(path.name, platform, python):
            return path
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--platform", PIP_PLATFORMS[platform], "--python-version", python,
               "--dest", tmp, f"pyzmq=={PYZMQ_VERSION}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        found = [p for p in Path(tmp).glob("*.whl") if wheel_fits(p.name, platform, python)]
        if proc.returncode != 0 or not found:
            raise BuildError(f"could not download pyzmq {PYZMQ_VERSION} for {platform} / Python {python} "
                             f"from PyPI (is the network up?):\n{proc.stderr.strip()[-2000:]}")
        target = cache / found[0].name
        shutil.move(str(found[0]), target)
        return target


def wheels_for(platform: str, cache: Path) -> list[Path]:
    """The distinct wheels that cover every supported Python on ``platform``."""
    wheels: list[Path] = []
    for python in PYTHON_VERSIONS:
        wheel = fetch_wheel(platform, python, cache)
        if wheel not in wheels:
            wheels.append(wheel)
    return wheels


# ------------------------------------------------------------------------------------------
# Staging and archiving

def excluded(rel: str, patterns: list[str]) -> bool:
    """Mirror Blender's ``paths_exclude_pattern`` for the patterns this manifest uses."""
    parts = rel.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            if pattern[:-1] in parts[:-1]:
                return True
        elif pattern.startswith("/"):
            if fnmatch.fnmatch(rel, pattern[1:]):
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def stage(dest: Path, platform: str, wheels: list[Path], manifest: dict) -> None:
    """Assemble the extension's source tree for one platform in ``dest``."""
    patterns = manifest.get("build", {}).get("paths_exclude_pattern", [])
    for src_root, prefix in ((ADDON_DIR, ""), (SHARED_DIR, "shared/")):
        for path in sorted(src_root.rglob("*")):
            rel = prefix + path.relative_to(src_root).as_posix()
            if path.is_file() and not excluded(rel, patterns) and rel != "wheels" and not rel.startswith("wheels/"):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    (dest / "wheels").mkdir(exist_ok=True)
    for wheel in wheels:
        shutil.copy2(wheel, dest / "wheels" / wheel.name)
    text = (ADDON_DIR / MANIFEST_NAME).read_text(encoding="utf-8")
    (dest / MANIFEST_NAME).write_text(manifest_for_platform(text, platform, [w.name for w in wheels]),
                                      encoding="utf-8")


def zip_tree(source: Path, out: Path) -> None:
    """Write every file under ``source`` into ``out`` with archive paths relative to ``source``."""
    tmp = out.with_name("." + out.name)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                stored = path.suffix in (".whl", ".zip", ".png", ".jpg")
                archive.write(path, path.relative_to(source).as_posix(),
                              compress_type=zipfile.ZIP_STORED if stored else None)
    tmp.replace(out)


def blender_build(blender: str, source: Path, out: Path) -> None:
    """Archive ``source`` with Blender's own ``extension build`` command."""
    cmd = [blender, "--factory-startup", "--command", "extension", "build",
           "--source-dir", str(source), "--output-filepath", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        raise BuildError(f"'{' '.join(cmd)}' failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def current_platform() -> str:
    """This machine as a Blender platform name (linux-x64, macos-arm64, windows-x64, ...)."""
    system = {"darwin": "macos"}.get(platform_module.system().lower(), platform_module.system().lower())
    machine = platform_module.machine().lower()
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system}-{machine}"


def build(platforms: list[str], out_dir: Path, cache: Path, blender: str | None) -> list[Path]:
    """Build one archive per platform; return their paths."""
    manifest = read_manifest()
    for name in platforms:
        if name not in manifest["platforms"]:
            raise BuildError(f"platform {name!r} is not in the manifest; choose from {manifest['platforms']}")
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    for name in platforms:
        wheels = wheels_for(name, cache)
        out = out_dir / f"{manifest['id']}-{manifest['version']}-{name.replace('-', '_')}.zip"
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / manifest["id"]
            stage(source, name, wheels, manifest)
            if blender:
                blender_build(blender, source, out)
            else:
                zip_tree(source, out)
        built.append(out)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="build for every platform in the manifest")
    parser.add_argument("--platform", action="append", help="a Blender platform, e.g. linux-x64 (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--wheel-cache", type=Path, default=ROOT / "build" / "wheels",
                        help="where downloaded wheels are kept (default: build/wheels)")
    parser.add_argument("--blender", default=shutil.which("blender"),
                        help="Blender binary used to archive (default: 'blender' on PATH, if any)")
    parser.add_argument("--no-blender", action="store_true", help="always write the archive with Python")
    args = parser.parse_args(argv)
    try:
        manifest = read_manifest()
        platforms = manifest["platforms"] if args.all else (args.platform or [current_platform()])
        blender = None if args.no_blender else args.blender
        for path in build(platforms, args.out, args.wheel_cache, blender):
            print(path)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
