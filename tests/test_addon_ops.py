"""The add-on's operators headless in real Blender against a real backend process.

The backend here runs a timed 'generate' (tests/addon_helpers/timed_op.py) so cancel and
connection-loss tests can act mid-job; test_addon_real_ops.py drives the real ops.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest

from addon_helpers import blender
from addon_helpers.backend import BACKEND_PYTHON, Backend, shared_backend
from addon_helpers.blender import bpy
from addon_helpers.limited_server import LimitedServer

pytestmark = pytest.mark.blender


@pytest.fixture()
def backend():
    return shared_backend(("timed_op",))


@pytest.fixture()
def prefs(backend):
    return blender.fresh(backend.address, timeout=10.0)


def session():
    return blender.kiln().session.get()


def kiln_objects():
    return sorted(o.name for o in bpy.data.objects)


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def test_generate_waits_and_lands_at_the_cursor_selected_and_active(prefs):
    bpy.context.scene.cursor.location = (1.0, 2.0, 3.0)
    assert bpy.ops.kiln.generate(prompt="a clay ball", seed=3, wait=True) == {"FINISHED"}
    obj = bpy.data.objects["clay_ball"]
    assert tuple(obj.location) == pytest.approx((1.0, 2.0, 3.0))
    assert obj.select_get() and bpy.context.view_layer.objects.active == obj
    sizes = [len(p.vertices) for p in obj.data.polygons]
    assert sizes.count(4) == 14 * 32 and sizes.count(3) == 2 * 32, "quads arrive as quads"
    assert obj.data.materials[0].name == "clay_ball_clay"
    record = next(iter(session().jobs))
    assert record.state == "done" and record.objects == ["clay_ball"] and record.job


def test_undo_after_generate_removes_the_object(prefs):
    bpy.ops.ed.undo_push(message="before Kiln")
    bpy.ops.kiln.generate(prompt="undo me", wait=True)
    assert "undo_me" in bpy.data.objects
    bpy.ops.ed.undo()
    assert "undo_me" not in bpy.data.objects and len(bpy.data.meshes) == 0


def test_cancel_mid_job_leaves_no_objects(prefs):
    bpy.ops.kiln.connect(wait=True)
    assert bpy.ops.kiln.generate(prompt="slow ball", wait=False) == {"FINISHED"}  # 60 s unless cancelled
    record = next(iter(session().jobs))
    deadline = time.monotonic() + 30
    while record.state != "running" and time.monotonic() < deadline:
        session().pump(block=0.05)
    assert record.state == "running" and record.fraction < 1.0
    assert bpy.ops.kiln.cancel(job=record.job, wait=True) == {"FINISHED"}
    assert record.state == "cancelled"
    assert kiln_objects() == [] and len(bpy.data.meshes) == 0


def test_no_backend_gives_a_clear_error_and_no_objects(backend):
    blender.fresh(free_address(), timeout=1.0)
    with pytest.raises(RuntimeError, match="no reply from.*kiln-backend serve"):
        bpy.ops.kiln.generate(prompt="nobody home", wait=True)
    assert kiln_objects() == []


def test_remote_address_needs_blender_online_access(backend):
    blender.fresh("tcp://10.255.255.1:5555", timeout=1.0)
    assert not bpy.app.online_access
    with pytest.raises(RuntimeError, match="online access is disabled"):
        bpy.ops.kiln.connect(wait=True)


def test_ops_the_server_does_not_offer_fail_cleanly_and_are_greyed(backend):
    spec = {"summary": "", "resource": "cpu", "inputs": {}, "params": [{"name": "prompt", "type": "str"}]}
    server = LimitedServer({"generate": spec})
    try:
        blender.fresh(server.address, timeout=2.0)
        bpy.ops.mesh.primitive_cube_add()
        with pytest.raises(RuntimeError, match="does not offer 'retopo'"):
            bpy.ops.kiln.retopo(wait=True)
        assert kiln_objects() == ["Cube"] and "submit" not in server.requests
        sess = session()
        assert sess.op_support("parts") == (False, f"the backend at {server.address} does not offer 'parts'")
        assert sess.op_support("generate") == (True, "")
        assert sess.param_spec("generate", "seed") is None, "the panel greys Seed for this server"
    finally:
        server.close()


def test_backend_dying_mid_job_reports_and_leaves_nothing(tmp_path):
    server = Backend(tmp_path / "store", extra_ops=("timed_op",)).start()
    try:
        blender.fresh(server.address, timeout=3.0)
        bpy.ops.kiln.connect(wait=True)
        killer = threading.Timer(1.0, server.proc.kill)
        killer.start()
        with pytest.raises(RuntimeError, match="lost the connection.*re-import"):
            bpy.ops.kiln.generate(prompt="slow doomed", wait=True)
        killer.join()
        assert kiln_objects() == []
    finally:
        server.stop()


def test_jobs_survive_a_blender_session_and_can_be_reimported(prefs, backend):
    bpy.ops.kiln.generate(prompt="keeper", wait=True)
    job = next(iter(session().jobs)).job
    bpy.ops.wm.read_factory_settings(use_empty=True)          # add-on off: session gone
    blender.fresh(backend.address, timeout=10.0)
    assert len(session().jobs) == 0
    bpy.ops.kiln.connect(wait=True)
    deadline = time.monotonic() + 10
    while session().jobs.find(job) is None and time.monotonic() < deadline:
        session().pump(block=0.05)
    listed = session().jobs.find(job)
    assert listed is not None and listed.state == "done" and listed.label == "keeper"
    bpy.context.scene.cursor.location = (0, 0, 5)
    assert bpy.ops.kiln.reimport(job=job, wait=True) == {"FINISHED"}
    obj = bpy.context.view_layer.objects.active
    assert obj.name.startswith("kiln_generate_") and obj.location.z == pytest.approx(5)
    assert len(obj.data.polygons) == 14 * 32 + 2 * 32


def test_disable_enable_twice_leaves_no_threads_or_timers(prefs, backend):
    kiln = blender.kiln()
    for _ in range(2):
        bpy.ops.kiln.connect(wait=True)
        assert any(t.name == "kiln-client" for t in threading.enumerate())
        tick = kiln.session.tick
        assert bpy.app.timers.is_registered(tick)
        bpy.ops.preferences.addon_disable(module=blender.MODULE)
        assert not any(t.name == "kiln-client" for t in threading.enumerate())
        assert not bpy.app.timers.is_registered(tick)
        assert not hasattr(bpy.types.Scene, "kiln")
        bpy.ops.preferences.addon_enable(module=blender.MODULE)
        kiln = blender.kiln()
        blender.fresh(backend.address, timeout=10.0)
    assert bpy.ops.kiln.generate(prompt="still works", wait=True) == {"FINISHED"}


def test_local_backend_is_started_watched_and_stopped(tmp_path, backend):
    import sys
    prefs = blender.fresh(free_address(), timeout=10.0)
    prefs.start_local = True
    prefs.backend_python = BACKEND_PYTHON
    prefs.backend_workdir = str(blender.ROOT)
    assert bpy.ops.kiln.connect(wait=True) == {"FINISHED"}
    sess = session()
    assert sess.state == "connected" and sess.backend.running
    proc = sess.backend.proc
    log = sess.backend.log_path
    assert log.exists() and "kiln: starting" in log.read_text()
    bpy.ops.preferences.addon_disable(module=blender.MODULE)
    assert proc.poll() is not None, "disabling the add-on stops the backend it started"


def test_batch_example_generates_and_saves_a_blend(backend, tmp_path):
    import os
    import subprocess
    import sys
    blender.install()
    out = tmp_path / "batch.blend"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(blender.USER_RESOURCES))
    proc = subprocess.run([sys.executable, str(blender.ROOT / "examples" / "batch_generate.py"), "--",
                           "--prompt", "a chair", "--prompt", "a table", "--seeds", "2",
                           "--address", backend.address, "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "saved" in proc.stdout and out.exists()
    assert "Kiln generate" in proc.stdout and "sampling" in proc.stdout, "headless runs print progress"
    bpy.ops.wm.open_mainfile(filepath=str(out))
    names = sorted(o.name for o in bpy.data.objects)
    assert names == ["chair", "chair.001", "table", "table.001"]
    assert [round(bpy.data.objects[n].location.x, 2) for n in names] == [0.0, 2.5, 5.0, 7.5]


def test_a_local_backend_that_exits_is_reported_with_its_log(backend):
    import sys
    prefs = blender.fresh(free_address(), timeout=10.0)
    prefs.start_local = True
    prefs.backend_python = BACKEND_PYTHON
    prefs.backend_workdir = str(blender.ROOT)
    prefs.backend_arguments = "-m backend serve --bind {address} --no-such-flag"
    with pytest.raises(RuntimeError, match=r"(?s)exited with code 2.*unrecognized arguments: --no-such-flag"):
        bpy.ops.kiln.connect(wait=True)
    assert session().state == "disconnected"
    assert bpy.ops.kiln.open_log() == {"FINISHED"}
    assert "no-such-flag" in bpy.data.texts["backend.log"].as_string()
    prefs.backend_python = "/nonexistent/python3"
    with pytest.raises(RuntimeError, match="does not exist; fix it in the add-on preferences"):
        bpy.ops.kiln.connect(wait=True)


def test_generate_from_an_image_sends_it_and_names_the_result_after_it(prefs, backend):
    import json
    image = bpy.data.images.new("ref_photo", 24, 16, alpha=True)
    with pytest.raises(RuntimeError, match="type a prompt or pick an image"):
        bpy.ops.kiln.generate(wait=True)
    with pytest.raises(RuntimeError, match="no image named 'nope'"):
        bpy.ops.kiln.generate(image="nope", wait=True)
    assert bpy.ops.kiln.generate(image=image.name, wait=True) == {"FINISHED"}
    assert "ref_photo" in bpy.data.objects
    record = next(iter(session().jobs))
    request = json.loads((backend.store / "jobs" / record.job / "request.json").read_text())
    assert request["inputs"]["image"] == {"kind": "image", "shape": [16, 24, 4]}
    assert request["params"]["prompt"] == "" and request["params"]["seed"] == 0


def test_script_options_the_backend_does_not_take_are_reported(prefs, capfd):
    assert bpy.ops.kiln.generate(prompt="plain", texture=False, seed=1, wait=True) == {"FINISHED"}
    out = capfd.readouterr().out
    assert "this backend's generate ignores texture" in out and "seed" not in out.split("ignores")[1].split("\n")[0]
    bpy.ops.kiln.generate(prompt="plain again", wait=True)
    assert "ignores" not in capfd.readouterr().out, "panel defaults the server lacks are not nagged about"


QUIT_SCRIPT = """
import socket, sys
sys.path[:0] = [{tests!r}, {root!r}]
from addon_helpers import blender
from addon_helpers.blender import bpy
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
prefs = blender.fresh(f"tcp://127.0.0.1:{{port}}", timeout=10.0)
prefs.start_local, prefs.backend_python, prefs.backend_workdir = True, {python!r}, {root!r}
bpy.ops.kiln.connect(wait=True)
print("PID", blender.kiln().session.get().backend.proc.pid, flush=True)
"""  # then Python (Blender) exits without anyone disabling the add-on


@pytest.mark.slow  # a second Blender process plus a backend start
def test_quitting_blender_stops_the_local_backend():
    import os
    import subprocess
    import sys
    script = QUIT_SCRIPT.format(tests=str(blender.ROOT / "tests"), root=str(blender.ROOT), python=BACKEND_PYTHON)
    env = {k: v for k, v in os.environ.items() if k != "BLENDER_USER_RESOURCES"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env)
    pid = int(next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("PID")))
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
