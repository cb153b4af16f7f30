"""The house rule, read from the source with ``ast``: arrows point one way.

blender_addon -> shared <- backend; inside backend: server -> ops -> models / procedural ->
geometry, with cancel/progress/errors in ``backend.runtime`` (the ground floor).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[str]:
    """Absolute module names imported by ``path`` (relative imports resolved), anywhere in it."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.append(base)
            names += [f"{base}.{a.name}" for a in node.names]
    return names


def _violations(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return sorted(set(found))


@pytest.mark.parametrize("folder, forbidden", [
    ("backend/geometry", ("backend.ops", "backend.server", "backend.jobs", "backend.models",
                          "backend.procedural")),
    ("backend/models", ("backend.ops", "backend.server", "backend.jobs")),
    ("backend/procedural", ("backend.ops", "backend.server", "backend.jobs")),
    ("backend/ops", ("backend.server", "backend.jobs")),
    ("shared", ("backend", "blender_addon", "bpy", "torch")),
    ("blender_addon", ("backend",)),
])
def test_arrows_point_one_way(folder, forbidden):
    assert _violations(folder, forbidden) == []


def test_ground_floor_imports_nothing_from_the_backend():
    assert [n for n in _imports(ROOT / "backend/runtime.py") if n.startswith("backend")] == []


def test_the_checker_sees_a_violation(tmp_path, monkeypatch):
    """The rule can fail: a planted relative import of ops from geometry is reported."""
    fake = tmp_path / "backend" / "geometry"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from ..ops.base import OpError\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations("backend/geometry", ("backend.ops",)) == [
        "backend/geometry/bad.py imports backend.ops.base",
        "backend/geometry/bad.py imports backend.ops.base.OpError"]
