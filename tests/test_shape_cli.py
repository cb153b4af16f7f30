"""`kiln-backend reconstruct` and `kiln-backend eval vae` with the embedded kiln-shape-s, on real files."""
import json
import shutil
from pathlib import Path

import pymeshlab
import pytest

from backend.cli import main
from backend.meshio import read_mesh
from backend.models import kiln_shape

pytestmark = pytest.mark.skipif(not (kiln_shape.WEIGHTS_DIR / "kiln-shape-s.safetensors").is_file(),
                                reason="kiln-shape-s weights are not in backend/weights")
SAMPLES = Path(pymeshlab.__file__).parent / "tests" / "sample_meshes"


def test_reconstruct_writes_a_watertight_mesh_in_the_input_frame(tmp_path, capsys):
    source = SAMPLES / "cube.obj"
    out = tmp_path / "cube.glb"
    assert main(["reconstruct", str(source), "-o", str(out), "--resolution", "64"]) == 0
    assert "wrote" in capsys.readouterr().out
    original, rebuilt = read_mesh(source), read_mesh(out)
    lo, hi = original.positions.min(0), original.positions.max(0)
    centre = (rebuilt.positions.min(0) + rebuilt.positions.max(0)) / 2
    assert abs(centre - (lo + hi) / 2).max() < 0.2 * (hi - lo).max(), "decoded back into the input's frame"
    assert rebuilt.num_faces > 50


def test_reconstruct_reports_bad_input(tmp_path, capsys):
    assert main(["reconstruct", str(tmp_path / "missing.obj"), "-o", str(tmp_path / "x.glb")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["reconstruct", str(SAMPLES / "cube.obj"), "-o", str(tmp_path / "x.glb"),
                 "--model", "no-such-model"]) == 1
    assert "neither a checkpoint" in capsys.readouterr().err


def test_eval_vae_on_a_folder_of_meshes(tmp_path, capsys):
    shutil.copy(SAMPLES / "cube.obj", tmp_path / "cube.obj")
    report = tmp_path / "scores.json"
    assert main(["eval", "vae", str(tmp_path), "--resolution", "64", "--json", str(report)]) == 0
    assert "F@0.02" in capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["shapes"][0]["shape"] == "cube"
    assert 0.0 <= data["mean"]["fscore"] <= 1.0 and data["mean"]["chamfer"] > 0


def test_eval_vae_refuses_a_folder_without_shapes(tmp_path, capsys):
    assert main(["eval", "vae", str(tmp_path)]) == 1
    assert "neither a dataset" in capsys.readouterr().err
