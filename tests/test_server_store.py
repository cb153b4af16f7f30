"""backend/store.py on a real folder: outputs kept exactly, ids checked, recovery and pruning."""
import time

import numpy as np
import pytest

from backend.store import JobStore, new_job_id
from shared.client import Client, KilnError
from shared.payload import ImagePayload
from tests.platform_helpers.meshes import quad_box
from tests.platform_helpers.server_proc import running_server


def _job(store, state, finished=None):
    job = new_job_id()
    store.create({"job": job, "op": "count", "state": state, "finished": finished, "client": ""}, {"op": "count"})
    return job


def test_outputs_round_trip_exactly_and_a_glb_is_written(tmp_path):
    store = JobStore(tmp_path)
    job = _job(store, "running")
    box = quad_box(textures=True)
    image = ImagePayload(np.full((3, 2, 4), 7, np.uint8))
    store.save_outputs(job, {"mesh": box, "preview": image})
    back = store.load_outputs(job)
    assert np.array_equal(back["mesh"].face_sizes, box.face_sizes)  # quads, not GLB triangles
    assert np.array_equal(back["mesh"].textures["base_color"], box.textures["base_color"])
    assert np.array_equal(back["preview"].pixels, image.pixels)
    assert (store.job_dir(job) / "mesh.glb").is_file()


@pytest.mark.parametrize("bad", ["../etc", "20260101-000000-0000000", "", None, "20260101-000000-deadbeef/.."])
def test_malformed_job_ids_never_touch_the_disk(tmp_path, bad):
    store = JobStore(tmp_path)
    with pytest.raises(KeyError):
        store.load_state(bad)
    assert not store.exists(bad)


def test_recover_fails_unfinished_jobs_and_keeps_finished(tmp_path):
    store = JobStore(tmp_path)
    queued, running, done = _job(store, "queued"), _job(store, "running"), _job(store, "done", time.time())
    assert sorted(store.recover()) == sorted([queued, running])
    assert store.load_state(running)["state"] == "failed"
    assert "was running" in store.load_state(running)["error"]["message"]
    assert "was queued" in store.load_state(queued)["message"]
    assert store.load_state(done)["state"] == "done"


def test_prune_removes_only_old_finished_jobs(tmp_path):
    store = JobStore(tmp_path)
    old = _job(store, "done", time.time() - 10 * 86400)
    recent = _job(store, "failed", time.time())
    running = _job(store, "running")
    assert store.prune(5 * 86400) == [old]
    assert not store.exists(old) and store.exists(recent) and store.exists(running)


def test_server_with_keep_days_prunes_on_start(tmp_path):
    store = JobStore(tmp_path / "store")
    old = _job(store, "done", time.time() - 3 * 86400)
    kept = _job(store, "done", time.time())
    with running_server(tmp_path / "store", "--keep-days", "2") as server, Client(server.address) as client:
        deadline = time.monotonic() + 10
        while store.exists(old):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(KilnError) as info:
            client.status(old)
        assert info.value.code == "not_found"
        assert client.status(kept)["state"] == "done"
