"""The interactive path in real Blender: the timer callback, reports, icons, param mapping, CURVE."""
from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from addon_helpers import blender
from addon_helpers.backend import Backend, shared_backend
from addon_helpers.blender import bpy

pytestmark = pytest.mark.blender


@pytest.fixture()
def backend():
    return shared_backend(("timed_op",))


def run_timer_until(predicate, limit_s: float = 30.0) -> int:
    """Call the add-on's registered timer as Blender's event loop would, until ``predicate()``."""
    tick = blender.kiln().session.tick
    assert bpy.app.timers.is_registered(tick)
    calls = 0
    deadline = time.monotonic() + limit_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(tick())
        calls += 1
    assert predicate(), "timed out"
    return calls


def test_the_timer_applies_results_as_one_undo_step_and_reports(backend, capfd):
    blender.fresh(backend.address, timeout=3.0)
    sess = blender.kiln().session.get()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="not connected: press Connect"):
        bpy.ops.kiln.generate(prompt="too early", wait=False)
    assert time.monotonic() - started < 0.5, "a UI click never waits on the network"
    assert bpy.ops.kiln.connect(wait=False) == {"FINISHED"}
    run_timer_until(lambda: sess.state == "connected")
    bpy.ops.ed.undo_push(message="before")
    assert bpy.ops.kiln.generate(prompt="timer ball", wait=False) == {"FINISHED"}
    assert "timer_ball" not in bpy.data.objects, "wait=False returns before the job ends"
    record = next(iter(sess.jobs))
    fractions = []
    run_timer_until(lambda: fractions.append(record.fraction) or record.final)
    assert record.state == "done" and "timer_ball" in bpy.data.objects
    assert max(fractions) > 0.0 and record.fraction == 1.0
    assert sess.reports == [] and "Kiln generate done" in capfd.readouterr().out
    bpy.ops.ed.undo()
    assert "timer_ball" not in bpy.data.objects


def test_remove_job_and_cancel_refuse_what_does_not_apply(backend):
    blender.fresh(backend.address, timeout=3.0)
    bpy.ops.kiln.generate(prompt="listed", wait=True)
    sess = blender.kiln().session.get()
    record = next(iter(sess.jobs))
    assert bpy.ops.kiln.cancel(job=record.job) == {"CANCELLED"}, "a finished job cannot be cancelled"
    assert record.state == "done"
    assert bpy.ops.kiln.remove_job(job=record.job) == {"FINISHED"}
    assert sess.jobs.find(record.job) is None
    with pytest.raises(RuntimeError, match="no job"):
        bpy.ops.kiln.remove_job(job=record.job)


def test_every_icon_the_panels_use_exists_in_blender():
    blender.fresh()
    kiln = blender.kiln()
    valid = {item.identifier for item in bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items}
    used = set(kiln.panels.STATE_ICONS.values()) | set(kiln.panels.JOB_ICONS.values())
    for module in (kiln.panels, kiln.preferences):
        used |= set(re.findall(r'icon="([A-Z_0-9]+)"', open(module.__file__).read()))
    assert used and used <= valid, sorted(used - valid)


def test_panel_settings_map_onto_whatever_the_server_accepts():
    blender.fresh()
    params = blender.kiln().op_params
    specs = [{"name": "steps", "type": "int", "default": 20, "minimum": 4, "maximum": 30},
             {"name": "resolution", "type": "int", "default": 128, "minimum": 32, "maximum": 512}]
    assert params.quality_params(specs, "DRAFT") == {"steps": 10, "resolution": 64}
    assert params.quality_params(specs, "HIGH") == {"steps": 30, "resolution": 256}
    assert params.quality_params([{"name": "quality", "type": "choice", "choices": ["draft", "high"]}],
                                 "HIGH") == {"quality": "high"}
    assert params.symmetry_value({"type": "bool"}, "X") is True
    assert params.symmetry_value({"type": "choice", "choices": ["none", "x", "y", "z"]}, "Y") == "y"
    assert params.symmetry_value(None, "X") is None
    kept, dropped = params.supported([{"name": "prompt"}, {"name": "seed"}],
                                     {"prompt": "a", "seed": 2, "texture": True, "model": "__server_default__"})
    assert kept == {"prompt": "a", "seed": 2} and dropped == ["model", "texture"]
    assert params.choice_or_int({"type": "choice", "choices": ["512", "1024"]}, 1024) == "1024"
    assert params.choice_or_int({"type": "int"}, 1024) == 1024


def test_curve_encrypted_backend_needs_the_client_keys(tmp_path):
    keys = tmp_path / "keys"
    subprocess.run([sys.executable, "-m", "backend", "keys", str(keys), "--client", "blender"],
                   cwd=blender.ROOT, check=True, capture_output=True)
    server = Backend(tmp_path / "store", extra_ops=("timed_op",), extra_args=("--curve-keys", str(keys))).start()
    try:
        prefs = blender.fresh(server.address, timeout=1.0)
        with pytest.raises(RuntimeError, match="no reply from"):
            bpy.ops.kiln.connect(wait=True)
        prefs.curve_keys_dir = str(keys / "clients" / "blender")
        bpy.ops.kiln.disconnect()
        assert bpy.ops.kiln.connect(wait=True) == {"FINISHED"}
        assert bpy.ops.kiln.generate(prompt="secret ball", wait=True) == {"FINISHED"}
        assert "secret_ball" in bpy.data.objects
    finally:
        server.stop()


def test_the_installed_extension_carries_its_pyzmq_wheel():
    blender.install()
    site = blender.USER_RESOURCES / "extensions" / ".local" / "lib"
    assert list(site.glob("python3.*/site-packages/zmq/__init__.py")), "Blender unpacked the bundled wheel"
    assert (blender.USER_RESOURCES / "extensions" / "user_default" / "kiln" / "shared" / "client.py").exists()
