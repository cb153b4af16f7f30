"""Backend crashes and shutdowns: SIGKILL mid-job, restart, SIGTERM with running and queued jobs."""
import signal
import time

import pytest

from shared.client import Client, KilnError
from shared.protocol import ErrorCode
from tests.platform_helpers.server_proc import start_server, stop_server


def _wait_state(client, job, state, timeout=20):
    deadline = time.monotonic() + timeout
    while client.status(job)["state"] != state:
        assert time.monotonic() < deadline, client.status(job)
        time.sleep(0.02)


def test_sigkill_mid_job_then_restart_marks_it_failed_and_keeps_finished_results(tmp_path):
    store = tmp_path / "store"
    first = start_server(store)
    with Client(first.address) as client:
        finished = client.submit("count", {"n": 3, "step_ms": 1})
        client.wait(finished, timeout=20)
        interrupted = client.submit("count", {"n": 1000, "step_ms": 50})
        _wait_state(client, interrupted, "running")
    stop_server(first, signal.SIGKILL)
    second = start_server(store)
    try:
        with Client(second.address) as client:
            record = client.status(interrupted)
            assert record["state"] == "failed"
            assert "crash or kill" in record["error"]["message"]
            with pytest.raises(KilnError) as info:
                client.fetch(interrupted)
            assert info.value.code == ErrorCode.FAILED and "submit it again" in info.value.message
            assert client.fetch(finished)["mesh"].info["total"] == 6
            assert "mesh" in client.wait(client.submit("count", {"n": 1}), timeout=20)
    finally:
        stop_server(second)


def test_sigterm_cancels_running_and_queued_jobs_cleanly(tmp_path):
    store = tmp_path / "store"
    server = start_server(store, "--cpu-workers", "1")
    with Client(server.address) as client:
        running = client.submit("count", {"n": 1000, "step_ms": 50})
        queued = client.submit("count", {"n": 1})
        _wait_state(client, running, "running")
        assert stop_server(server, signal.SIGTERM) == 0
        events = {}
        while (event := client.next_event(0.5)) is not None:
            events.setdefault(event.job, []).append(event)
    assert events[running][-1].header["code"] == "cancelled"
    assert "shut down" in events[running][-1].header["message"]
    assert events[queued][-1].header["code"] == "cancelled"
    log = (store / "kiln-backend.log").read_text()
    assert "shutting down" in log and "stopped" in log
    restarted = start_server(store)
    try:
        with Client(restarted.address) as client:
            for job in (running, queued):
                record = client.status(job)
                assert record["state"] == "cancelled" and "shut down" in record["message"]
    finally:
        stop_server(restarted)
