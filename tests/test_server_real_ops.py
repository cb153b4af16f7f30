"""The job lifecycle through the real geometry ops, over the wire and locally with the same flags."""
import subprocess
import sys

import numpy as np
import pytest

from backend.meshio import read_mesh
from shared.client import Client
from tests.platform_helpers.meshes import sample_mesh_dir
from tests.platform_helpers.server_proc import ROOT, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("store"), test_ops=False, real_ops="generate,retopo,parts") as proc:
        yield proc


def test_welcome_advertises_the_real_ops_and_their_schemas(server):
    with Client(server.address) as client:
        ops = client.connect()["ops"]
    assert {"generate", "retopo", "parts"} <= set(ops)
    assert ops["generate"]["resource"] == "model"
    model = {p["name"]: p for p in ops["generate"]["params"]}["model"]
    assert "procedural" in model["choices"]
    names = {p["name"] for p in ops["retopo"]["params"]}
    assert {"target_faces", "mode"} <= names
    assert ops["retopo"]["inputs"]["mesh"]["required"] is True


def test_retopo_of_a_real_mesh_through_the_server(server):
    cow = read_mesh(sample_mesh_dir() / "cow.obj")
    stages = []
    with Client(server.address, client_name="real-ops") as client:
        job = client.submit("retopo", {"target_faces": 400, "mode": "quad"}, {"mesh": cow})
        mesh = client.wait(job, on_progress=lambda p: stages.append(p["stage"]), timeout=300)["mesh"]
    assert abs(mesh.num_faces - 400) <= 40 and (mesh.face_sizes == 4).mean() > 0.9
    assert len(set(stages)) >= 2
    with Client(server.address) as again:
        fetched = again.fetch(job)["mesh"]
    assert np.array_equal(fetched.face_sizes, mesh.face_sizes) and np.array_equal(fetched.positions, mesh.positions)
    assert (server.store / "jobs" / job / "mesh.glb").is_file()


def test_submit_cli_parts_to_glb(server, tmp_path):
    out = tmp_path / "cow_parts.glb"
    result = subprocess.run([sys.executable, "-m", "backend", "submit", "--connect", server.address, "parts",
                             str(sample_mesh_dir() / "cow.obj"), "--method", "components", "-o", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    parts = read_mesh(out)
    assert parts.part_names and parts.part_ids is not None


def test_local_retopo_cli_keeps_quads_in_obj(tmp_path):
    out = tmp_path / "cow_quads.obj"
    result = subprocess.run([sys.executable, "-m", "backend", "retopo", str(sample_mesh_dir() / "cow.obj"),
                             "--target-faces", "300", "--mode", "quad", "--device", "cpu", "-o", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    quads = read_mesh(out)  # the OBJ keeps the op's quads (a GLB would have triangulated them)
    assert (quads.face_sizes == 4).sum() > quads.num_faces / 4 and abs(quads.num_faces - 300) <= 30


def test_local_cli_reports_bad_input_clearly(tmp_path):
    bad = tmp_path / "bad.obj"
    bad.write_text("v 0 0 0\nf 1 2 3\n")
    result = subprocess.run([sys.executable, "-m", "backend", "retopo", str(bad), "--device", "cpu", "-o",
                             str(tmp_path / "x.obj")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "bad.obj" in result.stderr and "does not exist" in result.stderr
    result = subprocess.run([sys.executable, "-m", "backend", "retopo", str(bad), "--mode", "hex", "-o", "x.obj"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_local_op_help_lists_the_ops_own_flags():
    for op, flag in (("retopo", "--target-faces"), ("parts", "--num-parts")):
        result = subprocess.run([sys.executable, "-m", "backend", op, "--help"], cwd=ROOT, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0 and flag in result.stdout and "--output" in result.stdout, result.stderr


def test_generate_runs_on_the_model_worker_beside_a_retopo(server):
    cow = read_mesh(sample_mesh_dir() / "cow.obj")
    with Client(server.address, client_name="real-ops") as client:
        generate = client.submit("generate", {"prompt": "a wooden chair", "model": "procedural", "seed": 1})
        retopo = client.submit("retopo", {"target_faces": 300, "mode": "tri"}, {"mesh": cow})
        chair = client.wait(generate, timeout=600)["mesh"]
        client.wait(retopo, timeout=600)
        generated, remeshed = client.status(generate), client.status(retopo)
        # The CPU job did not queue behind the model job.
        assert remeshed["started"] < generated["finished"]
        assert chair.num_faces > 0 and chair.info["model"] == "procedural"
        assert np.ptp(chair.positions[:, 2]) > np.ptp(chair.positions[:, 1])  # a chair is taller than deep: Z up
        unloaded = client.unload("procedural")
        assert unloaded["unloaded"] == ["procedural"] and "procedural" not in unloaded["loaded"]



def test_generate_auto_through_the_server_says_what_made_it(server):
    with Client(server.address, client_name="real-ops") as client:
        chair = client.wait(client.submit("generate", {"prompt": "a wooden chair", "seed": 2}), timeout=600)["mesh"]
        dragon = client.wait(client.submit("generate", {"prompt": "a dragon", "model": "procedural"}),
                             timeout=600)["mesh"]
    assert chair.info["requested_model"] == "auto" and chair.info["model"] == "procedural"
    assert chair.info["summary"].startswith("chair, procedural, ") and "warning" not in chair.info
    assert dragon.info["warning"].startswith("no category is close to 'a dragon'; nearest: ")
