"""`kiln-backend` as users type it: help, keys, models, submit (progress, outputs, Ctrl-C)."""
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from backend.cli import build_parser
from backend.meshio import read_mesh, write_mesh
from shared.client import Client
from tests.platform_helpers.meshes import quad_box
from tests.platform_helpers.server_proc import ROOT, running_server


def kiln(*args, timeout=120, cwd=ROOT):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "backend", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("store")) as proc:
        yield proc


def test_every_command_has_help():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"serve", "submit", "models", "keys", "generate", "retopo", "parts", "texture"} <= set(commands)
    for name in ("serve", "submit", "models", "keys"):
        result = kiln(name, "--help")
        assert result.returncode == 0 and "usage: kiln-backend" in result.stdout, result.stderr


def test_keys_is_idempotent(tmp_path):
    first = kiln("keys", tmp_path / "k", "--client", "alice")
    assert first.returncode == 0 and "created client alice" in first.stdout
    server_key = (tmp_path / "k" / "server.key").read_text()
    again = kiln("keys", tmp_path / "k", "--client", "alice", "--client", "bob")
    assert "already has keys" in again.stdout and "created client bob" in again.stdout
    assert (tmp_path / "k" / "server.key").read_text() == server_key
    assert sorted(p.name for p in (tmp_path / "k" / "authorized_clients").iterdir()) == ["alice.key", "bob.key"]
    assert kiln("keys", tmp_path / "k", "--client", "../evil").returncode == 2


def test_models_lists_the_registry():
    result = kiln("models")
    assert result.returncode == 0
    assert "procedural" in result.stdout and "(default)" in result.stdout and "license:" in result.stdout


def test_submit_writes_glb_and_shows_progress(server, tmp_path):
    out = tmp_path / "out" / "counted.glb"
    result = kiln("submit", "--connect", server.address, "count", "--n", 4, "--step-ms", 20, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "accepted" in result.stderr and "%" in result.stderr and f"wrote {out}" in result.stdout
    mesh = read_mesh(out)
    assert mesh.num_faces == 1 and mesh.info["total"] == 10


def test_submit_with_mesh_input_keeps_quads_in_obj(server, tmp_path):
    source = write_mesh(tmp_path / "box.ply", quad_box())
    out = tmp_path / "scaled.obj"
    result = kiln("submit", "--connect", server.address, "count", source, "--n", 1, "--scale", 0.5,
                  "--no-quiet", "-o", out)
    assert result.returncode == 0, result.stderr
    back = read_mesh(out)
    assert back.face_sizes.tolist() == [4] * 6
    assert np.allclose(back.positions, quad_box().positions * 0.5)


def test_submit_op_help_comes_from_the_server(server):
    result = kiln("submit", "--connect", server.address, "count", "--help")
    assert result.returncode == 0 and "--step-ms" in result.stdout and "--fail-at" in result.stdout


@pytest.mark.parametrize("args, code, words", [
    (("teleport", "-o", "x.glb"), 2, "it offers"),
    (("count", "--n", "-5", "-o", "x.glb"), 1, "bad_request"),
    (("count", "--fail-at", "1", "-o", "x.glb"), 1, "failed at step 1"),
    (("count", "missing.obj", "-o", "x.glb"), 1, "no such file"),
    (("count", "-o", "x.fbx"), 2, "--output"),
])
def test_submit_errors_are_clear(server, tmp_path, args, code, words):
    result = kiln("submit", "--connect", server.address, *args, cwd=tmp_path)
    assert result.returncode == code and words in result.stderr, result.stderr


def test_ctrl_c_cancels_the_job_on_the_server(server, tmp_path):
    command = ["submit", "--connect", server.address, "--client-name", "ctrl-c", "count", "--n", 1000,
               "--step-ms", 50, "-o", tmp_path / "never.glb"]
    process = subprocess.Popen([sys.executable, "-m", "backend", *map(str, command)], cwd=ROOT,
                               stderr=subprocess.PIPE, text=True)
    with Client(server.address, client_name="ctrl-c") as client:
        deadline = time.monotonic() + 60
        while not (jobs := client.status()["jobs"]) or jobs[0]["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130
        assert "cancelling job" in process.stderr.read()
        deadline = time.monotonic() + 10
        while client.status(jobs[0]["job"])["state"] != "cancelled":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert not (tmp_path / "never.glb").exists()


def test_submit_without_server_times_out_clearly(tmp_path):
    result = kiln("submit", "--connect", "tcp://127.0.0.1:9", "--timeout", "0.5", "count", "-o", tmp_path / "x.glb")
    assert result.returncode == 1 and "timeout" in result.stderr


def test_serve_on_a_busy_address_fails_clearly(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = kiln("serve", "--bind", f"tcp://127.0.0.1:{port}", "--store", tmp_path, "--device", "cpu",
                      "--ops", "none")
    assert result.returncode == 2
    assert "cannot listen" in result.stderr and "Address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_an_unusable_store_fails_clearly(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    result = kiln("serve", "--store", tmp_path / "file" / "store", "--device", "cpu", "--ops", "none")
    assert result.returncode == 2 and "cannot use store folder" in result.stderr and "Traceback" not in result.stderr

