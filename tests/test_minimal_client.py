"""examples/minimal_client.py, run as its users run it, against a real backend on loopback."""
import ast
import subprocess
import sys

import numpy as np
import pytest

from backend.meshio import read_mesh
from tests.platform_helpers.server_proc import ROOT, running_server

EXAMPLE = ROOT / "examples" / "minimal_client.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("store"), test_ops=False, real_ops="retopo") as proc:
        yield proc


def test_the_example_needs_only_pyzmq_and_numpy_and_stays_short():
    tree = ast.parse(EXAMPLE.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"json", "sys", "numpy", "zmq"}, imported
    assert len(EXAMPLE.read_text().splitlines()) < 80


def test_the_example_retopologizes_its_sphere_into_the_current_folder(server, tmp_path):
    # -I: no PYTHONPATH and no script folder on sys.path, as for a user's own copy of the file
    result = subprocess.run([sys.executable, "-I", str(EXAMPLE), server.address, "200"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Kiln protocol v1" in result.stdout and "%" in result.stdout and "wrote retopo.obj" in result.stdout
    mesh = read_mesh(tmp_path / "retopo.obj")
    mesh.validate("retopo.obj")
    assert abs(mesh.num_faces - 200) <= 20 and (mesh.face_sizes == 4).all()
    radius = np.linalg.norm(mesh.positions, axis=1)
    assert np.abs(radius - 1.0).max() < 0.05, "the result lies on the unit sphere that was sent"


def test_the_example_reports_an_error_reply_and_exits_nonzero(server, tmp_path):
    result = subprocess.run([sys.executable, "-I", str(EXAMPLE), server.address, "2"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "submit refused: bad_request" in result.stderr
    assert "target_faces" in result.stderr and not (tmp_path / "retopo.obj").exists()
