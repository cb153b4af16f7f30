"""The interactive path in real Blender: the timer callback, reports, icons, param mapping, CURVE."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
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


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


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
    blender.fresh(backend.address, timeout=10.0)
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
    blender.fresh(backend.address, timeout=10.0)
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
    for module in (kiln.panels, kiln.preferences, kiln.menus):
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


@pytest.mark.slow  # its own CURVE backend start: ~20 s on the shared 2-core box
def test_curve_encrypted_backend_needs_the_client_keys(tmp_path):
    keys = tmp_path / "keys"
    subprocess.run([BACKEND_PYTHON, "-m", "backend", "keys", str(keys), "--client", "blender"],
                   cwd=blender.ROOT, check=True, capture_output=True)
    server = Backend(tmp_path / "store", extra_ops=("timed_op",), extra_args=("--curve-keys", str(keys))).start()
    try:
        prefs = blender.fresh(server.address, timeout=1.0)
        with pytest.raises(RuntimeError, match="no reply from"):
            bpy.ops.kiln.connect(wait=True)
        prefs.curve_keys_dir = str(keys / "clients" / "blender")
        prefs.timeout = 10.0
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


def _panels():
    kiln = blender.kiln()
    return {cls.bl_label: cls for cls in kiln.panels.classes}


def test_panels_draw_disconnected_with_ops_greyed_and_the_reason():
    from addon_helpers.checking_layout import draw
    blender.fresh(free_address())
    panels = _panels()
    conn = draw(panels["Connection"], bpy.context)
    assert ("operator", "kiln.connect") in conn and any("Disconnected" in t for k, t in conn if k == "label")
    gen = draw(panels["Generate"], bpy.context)
    assert ("label", "Not connected to a Kiln backend") in gen
    assert ("operator", "kiln.generate (greyed)") in gen
    assert draw(panels["Jobs"], bpy.context)[-1] == ("label", "No jobs yet")


def test_panels_grey_what_a_limited_server_lacks():
    from addon_helpers.checking_layout import draw
    spec = {"summary": "", "resource": "cpu", "inputs": {},
            "params": [{"name": "prompt", "type": "str"}, {"name": "seed", "type": "int", "default": 0}]}
    server = LimitedServer({"generate": spec})
    try:
        blender.fresh(server.address, timeout=2.0)
        bpy.ops.kiln.connect(wait=True)
        panels = _panels()
        gen = draw(panels["Generate"], bpy.context)
        assert ("operator", "kiln.generate") in gen and ("prop", "seed") in gen
        assert ("prop", "texture (greyed)") in gen and ("prop", "model (greyed)") in gen
        assert any(k == "label" and t.startswith("Not offered by this server: model") for k, t in gen)
        retopo = draw(panels["Retopologize"], bpy.context)
        assert ("operator", "kiln.retopo (greyed)") in retopo
        assert ("label", f"The backend at {server.address} does not offer 'retopo'") in retopo
        conn = draw(panels["Connection"], bpy.context)
        assert ("label", "Ops: generate") in conn and ("operator", "kiln.disconnect") in conn
    finally:
        server.close()


def test_generate_panel_shows_the_chosen_models_licence():
    from addon_helpers.checking_layout import draw
    spec = {"summary": "", "resource": "model", "inputs": {},
            "params": [{"name": "prompt", "type": "str"},
                       {"name": "model", "type": "choice", "default": "big", "choices": ["big", "small"]}]}
    models = [{"name": "big", "capability": "shape", "license": "GPL-3.0-or-later", "summary": "A big model."},
              {"name": "small", "capability": "shape", "license": "CC-BY-NC-4.0", "description": "tiny"}]
    server = LimitedServer({"generate": spec}, models)
    try:
        blender.fresh(server.address, timeout=2.0)
        bpy.ops.kiln.connect(wait=True)
        settings = bpy.context.scene.kiln
        generate = _panels()["Generate"]
        assert ("label", "Model license: GPL-3.0-or-later") in draw(generate, bpy.context), "the server default's"
        settings.model = "small"
        calls = draw(generate, bpy.context)
        assert ("label", "Model license: CC-BY-NC-4.0") in calls and ("prop", "model") in calls
        items = {i[0]: i[2] for i in blender.kiln().props._model_items(settings, bpy.context)}
        assert items["big"] == "A big model. License: GPL-3.0-or-later."
        assert items["small"] == "tiny. License: CC-BY-NC-4.0."
    finally:
        server.close()


def test_generate_panel_wraps_a_long_licence():
    from addon_helpers.checking_layout import draw
    hunyuan = "Tencent Hunyuan 3D 2.1 Community License: not licensed in the European Union, the United Kingdom " \
              "or South Korea"
    spec = {"summary": "", "resource": "model", "inputs": {},
            "params": [{"name": "model", "type": "choice", "default": "Hunyuan3D-2.1", "choices": ["Hunyuan3D-2.1",
                                                                                                  "TripoSG"]}]}
    models = [{"name": "Hunyuan3D-2.1", "capability": "shape", "license": hunyuan, "description": "shape"},
              {"name": "TripoSG", "capability": "shape", "license": "MIT", "description": "shape"}]
    server = LimitedServer({"generate": spec}, models)
    try:
        blender.fresh(server.address, timeout=2.0)
        bpy.ops.kiln.connect(wait=True)
        labels = " ".join(t for k, t in draw(_panels()["Generate"], bpy.context) if k == "label")
        assert "license: Tencent Hunyuan" in labels and "South Korea" in labels   # the server default
        bpy.context.scene.kiln.model = "TripoSG"
        labels = [t for k, t in draw(_panels()["Generate"], bpy.context) if k == "label"]
        assert "Model license: MIT" in labels
    finally:
        server.close()


def test_generate_shows_what_made_the_result_and_warns_plainly(backend, capfd):
    from addon_helpers.checking_layout import draw
    blender.fresh(backend.address, timeout=10.0)
    assert bpy.ops.kiln.generate(prompt="routed dragon", wait=True) == {"FINISHED"}
    record = next(iter(blender.kiln().session.get().jobs))
    assert record.summary == "sword, procedural, 3%" and record.message.endswith("(sword, procedural, 3%)")
    out = capfd.readouterr().out
    assert "no category is close to 'routed dragon'; nearest: sword (3%)." in out
    gen = draw(_panels()["Generate"], bpy.context)
    assert ("label", "Last: sword, procedural, 3%") in gen
    assert any(k == "label" and t.startswith("no category is close") for k, t in gen)
    assert bpy.ops.kiln.generate(prompt="plain ball", wait=True) == {"FINISHED"}
    assert "no category" not in capfd.readouterr().out and not next(iter(blender.kiln().session.get().jobs)).warning


def test_jobs_panel_shows_progress_cancel_reimport_and_remove(backend):
    from addon_helpers.checking_layout import draw
    blender.fresh(backend.address, timeout=10.0)
    bpy.ops.kiln.generate(prompt="finished one", wait=True)
    sess = blender.kiln().session.get()
    finished = next(iter(sess.jobs))
    bpy.ops.kiln.generate(prompt="slow running one", wait=False)
    running = next(iter(sess.jobs))
    deadline = time.monotonic() + 20
    while running.stage != "sampling" and time.monotonic() < deadline:
        sess.pump(block=0.05)
    calls = draw(_panels()["Jobs"], bpy.context)
    assert calls[0] == ("operator", "kiln.refresh_jobs")
    sets = [c for c in calls if c[0] == "set"]
    assert ("set", "kiln.cancel", "job", running.key) in sets
    assert ("set", "kiln.reimport", "job", finished.job) in sets and ("set", "kiln.remove_job", "job", finished.key) in sets
    assert ("set", "kiln.cancel", "job", finished.key) not in sets and ("set", "kiln.remove_job", "job", running.key) not in sets
    assert any(c[0] == "progress" and "sampling" in c[1] for c in calls), calls
    bpy.ops.kiln.cancel(job=running.key, wait=True)
    assert running.state == "cancelled"


def test_a_job_from_another_session_is_followed_live_then_reimported(backend):
    import socket as _socket

    from shared.client import Client
    blender.fresh(backend.address, timeout=10.0)
    with Client(backend.address, client_name=f"blender@{_socket.gethostname()}") as other:
        other.connect()
        job = other.submit("generate", {"prompt": "elsewhere", "duration": 2.0, "segments": 8})
        bpy.ops.kiln.connect(wait=True)
        sess = blender.kiln().session.get()
        deadline = time.monotonic() + 10
        while sess.jobs.find(job) is None and time.monotonic() < deadline:
            sess.pump(block=0.05)
        record = sess.jobs.find(job)
        assert record is not None and record.active and record.label == "elsewhere"
        seen = set()
        deadline = time.monotonic() + 30
        while record.active and time.monotonic() < deadline:
            sess.pump(block=0.05)
            seen.add(record.state)
        assert record.state == "done" and "re-import" in record.stage and "running" in seen
        assert "elsewhere" not in bpy.data.objects, "another session's result is not added by itself"
    assert bpy.ops.kiln.reimport(job=job, wait=True) == {"FINISHED"}
    assert len(bpy.context.view_layer.objects.active.data.polygons) == 6 * 16 + 2 * 16


def test_object_menus_offer_the_ops_and_are_removed_on_disable():
    from addon_helpers.checking_layout import draw
    blender.fresh()
    kiln = blender.kiln()
    entry = kiln.menus._draw_entry
    for name in kiln.menus.MENUS:
        assert entry in getattr(bpy.types, name).draw._draw_funcs
    calls = draw(kiln.menus.KILN_MT_object, bpy.context)
    assert [c[1] for c in calls if c[0] == "operator"] == ["kiln.retopo", "kiln.split_parts", "kiln.texture"]
    assert draw(type("Host", (), {"draw": entry}), bpy.context) == [("menu", "KILN_MT_object")]
    bpy.ops.preferences.addon_disable(module=blender.MODULE)
    for name in kiln.menus.MENUS:
        assert entry not in getattr(bpy.types, name).draw._draw_funcs


def test_free_memory_unloads_the_backends_models(capfd):
    from addon_helpers.backend import shared_backend as backends
    blender.fresh(backends().address, timeout=10.0)   # the real-ops backend: it has a model registry
    with pytest.raises(RuntimeError, match="Connect to a Kiln backend first"):
        bpy.ops.kiln.free_memory()
    bpy.ops.kiln.connect(wait=True)
    assert bpy.ops.kiln.free_memory() == {"FINISHED"}
    sess = blender.kiln().session.get()
    seen = []
    run_timer_until(lambda: seen.append(capfd.readouterr().out) or "model memory" in "".join(seen), limit_s=15)
    assert "freed model memory" in "".join(seen), seen
    assert sess.state == "connected"
