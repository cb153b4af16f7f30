"""Job lifecycle through a real backend subprocess: progress, cancel, failure, fetch, fairness."""
import threading
import time

import numpy as np
import pytest

from shared.client import Client, KilnError
from shared.protocol import ErrorCode
from tests.platform_helpers.meshes import quad_box
from tests.platform_helpers.server_proc import running_server
from tests.platform_helpers.wire import RawPeer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("store"), "--cpu-workers", "1") as proc:
        yield proc


@pytest.fixture
def client(server):
    with Client(server.address, client_name="tester") as c:
        c.connect()
        yield c


def test_welcome_lists_ops_with_schemas(client):
    ops = client.welcome["ops"]
    assert set(ops) >= {"count", "model_count"}
    assert ops["model_count"]["resource"] == "model"
    params = {p["name"]: p for p in ops["count"]["params"]}
    assert params["n"]["type"] == "int" and params["n"]["default"] == 5
    assert ops["count"]["inputs"]["mesh"]["required"] is False
    assert client.welcome["device"] == "cpu" and client.welcome["version"] == 1


def test_submit_progress_result_and_fetch_after_reconnect(server, client):
    box = quad_box()
    seen = []
    job = client.submit("count", {"n": 6, "step_ms": 30, "scale": 3.0}, {"mesh": box})
    outputs = client.wait(job, on_progress=seen.append, timeout=30)
    mesh = outputs["mesh"]
    assert np.allclose(mesh.positions, box.positions * 3) and mesh.face_sizes.tolist() == [4] * 6
    assert mesh.info == {"total": 21} and mesh.part_names == box.part_names
    assert seen and all(0 <= p["fraction"] <= 1 for p in seen) and any(p["stage"] == "counting" for p in seen)
    with Client(server.address) as other:  # a different connection, as after Blender restarts
        again = other.fetch(job)["mesh"]
        assert np.array_equal(again.face_indices, mesh.face_indices)
        assert other.status(job)["state"] == "done"
    assert (server.store / "jobs" / job / "mesh.glb").is_file()


def test_quiet_op_still_reports_progress_every_second(client):
    job = client.submit("count", {"n": 1, "step_ms": 2500, "quiet": True})
    stamps = []
    client.wait(job, on_progress=lambda p: stamps.append(time.monotonic()), timeout=30)
    gaps = np.diff(stamps)
    assert len(stamps) >= 3 and gaps.max() < 1.0, gaps


def test_cancel_running_job_within_a_second(client):
    job = client.submit("count", {"n": 1000, "step_ms": 50})
    while client.status(job)["state"] != "running":
        time.sleep(0.02)
    start = time.monotonic()
    client.cancel(job)
    with pytest.raises(KilnError) as info:
        client.wait(job, timeout=10)
    assert time.monotonic() - start < 1.0
    assert info.value.code == ErrorCode.CANCELLED
    assert client.status(job)["state"] == "cancelled"
    with pytest.raises(KilnError) as info:
        client.fetch(job)
    assert info.value.code == ErrorCode.CANCELLED


def test_a_queued_job_says_how_many_jobs_are_ahead(client):
    blocker = client.submit("count", {"n": 20, "step_ms": 20})
    queued = client.submit("count", {"n": 1, "step_ms": 1})
    first = []
    client.wait(queued, on_progress=lambda p: first.append(p) if not first else None, timeout=20)
    assert first[0]["stage"] == "queued" and "1 job(s) ahead" in first[0]["message"]
    client.wait(blocker, timeout=20)


def test_cancel_queued_job_and_cancel_finished_job(client):
    blocker = client.submit("count", {"n": 20, "step_ms": 50})
    queued = client.submit("count", {"n": 1})
    record = client.cancel(queued)
    assert record["state"] == "cancelled"
    client.cancel(blocker)
    with pytest.raises(KilnError):
        client.wait(blocker, timeout=10)
    assert client.cancel(queued)["state"] == "cancelled"  # cancelling twice is harmless


def test_op_failure_and_op_crash_fail_the_job_not_the_server(client):
    failing = client.submit("count", {"n": 5, "fail_at": 2, "step_ms": 1})
    with pytest.raises(KilnError) as info:
        client.wait(failing, timeout=10)
    assert info.value.code == ErrorCode.FAILED and "failed at step 2" in info.value.message
    crashing = client.submit("count", {"n": 2, "crash": True})
    with pytest.raises(KilnError) as info:
        client.wait(crashing, timeout=10)
    assert "ZeroDivisionError" in info.value.message
    assert client.status(crashing)["error"]["code"] == "failed"
    assert "mesh" in client.wait(client.submit("count", {"n": 1, "step_ms": 1}), timeout=10)


def test_invalid_op_output_fails_the_job(client):
    job = client.submit("count", {"n": 1, "step_ms": 1, "bad_output": True})
    with pytest.raises(KilnError) as info:
        client.wait(job, timeout=10)
    assert info.value.code == ErrorCode.FAILED and "invalid output" in info.value.message and "NaN" in info.value.message


def test_op_metadata_with_nan_and_numpy_values_still_travels(client):
    job = client.submit("count", {"n": 1, "step_ms": 1, "scale": 1.5, "odd_info": True})
    info = client.wait(job, timeout=10)["mesh"].info
    assert info["nan"] is None and info["scale"] == 1.5 and info["counts"] == [0, 1, 2] and info["path"] == "/x"
    assert client.fetch(job)["mesh"].info == info


def test_model_jobs_run_one_at_a_time(client):
    first = client.submit("model_count", {"n": 3, "step_ms": 50})
    second = client.submit("model_count", {"n": 3, "step_ms": 50})
    client.wait(first, timeout=20)
    client.wait(second, timeout=20)
    assert client.status(second)["started"] >= client.status(first)["finished"]


def test_long_model_job_does_not_block_cpu_jobs(client):
    slow = client.submit("model_count", {"n": 60, "step_ms": 50})
    quick = client.submit("count", {"n": 2, "step_ms": 10})
    client.wait(quick, timeout=10)
    assert client.status(slow)["state"] == "running"
    client.cancel(slow)
    with pytest.raises(KilnError):
        client.wait(slow, timeout=10)


def test_clients_are_served_round_robin(server):
    with Client(server.address, client_name="greedy") as greedy, Client(server.address, client_name="polite") as polite:
        greedy_jobs = [greedy.submit("count", {"n": 1, "step_ms": 150}) for _ in range(5)]
        polite_job = polite.submit("count", {"n": 1, "step_ms": 10})
        polite.wait(polite_job, timeout=30)
        for job in greedy_jobs:
            greedy.wait(job, timeout=30)
        started = {job: greedy.status(job)["started"] for job in greedy_jobs}
        polite_started = polite.status(polite_job)["started"]
        # One CPU worker: polite's single job runs right after greedy's first or second, not last.
        assert sum(s < polite_started for s in started.values()) <= 2


def test_status_lists_a_clients_recent_jobs(server):
    with Client(server.address, client_name="lister") as c:
        jobs = [c.submit("count", {"n": 1, "step_ms": 1}) for _ in range(3)]
        for job in jobs:
            c.wait(job, timeout=10)
        listed = c.status()["jobs"]
    assert [r["job"] for r in listed] == sorted(jobs, reverse=True)
    assert all(r["client"] == "lister" and r["op"] == "count" for r in listed)


def test_client_vanishing_mid_job_loses_nothing(server):
    peer = RawPeer(server.address)
    reply = peer.request({"type": "submit", "id": 1, "op": "count", "params": {"n": 4, "step_ms": 50}})
    job = reply["job"]
    peer.close()  # gone before the result
    with Client(server.address) as c:
        deadline = time.monotonic() + 20
        while c.status(job)["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert c.fetch(job)["mesh"].info["total"] == 10


def test_events_of_other_jobs_are_kept_while_waiting(client):
    first = client.submit("count", {"n": 2, "step_ms": 10})
    second = client.submit("count", {"n": 2, "step_ms": 10})
    client.wait(second, timeout=10)
    seen = []
    while (event := client.next_event(0.5)) is not None:
        seen.append((event.job, event.type))
    assert (first, "result") in seen


def test_twenty_concurrent_clients_none_lost_or_duplicated(server):
    results, errors = {}, []

    def one(index):
        try:
            with Client(server.address, client_name=f"c{index}") as c:
                job = c.submit("count", {"n": 1, "step_ms": 1, "scale": float(index)})
                results[index] = (job, c.wait(job, timeout=60)["mesh"].positions.max())
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors
    assert len({job for job, _ in results.values()}) == 20
    assert all(value == pytest.approx(float(i)) for i, (_, value) in results.items())


def test_job_folder_removed_mid_job_fails_that_job_only(server, client):
    import shutil

    job = client.submit("count", {"n": 20, "step_ms": 50})
    while client.status(job)["state"] != "running":
        time.sleep(0.02)
    shutil.rmtree(server.store / "jobs" / job)  # e.g. someone cleaning the store by hand
    with pytest.raises(KilnError) as info:
        client.wait(job, timeout=20)
    assert info.value.code == ErrorCode.FAILED and "internal error" in info.value.message
    # The single CPU worker survived the failed writes and runs the next job.
    assert "mesh" in client.wait(client.submit("count", {"n": 1, "step_ms": 1}), timeout=20)
