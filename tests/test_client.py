"""shared/client.py against a real backend: timeouts, reconnects, and recovering lost events."""
import socket
import time

import pytest

from shared.client import Client, KilnError, load_curve_keys
from tests.platform_helpers.server_proc import running_server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_timeout_without_backend_then_reconnect_when_it_appears(tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    client = Client(address, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(KilnError) as info:
        client.connect()
    assert info.value.code == "timeout" and "is the backend running" in info.value.message
    assert time.monotonic() - start < 2
    client.timeout = 30
    with running_server(tmp_path / "store", bind=address):
        assert client.connect()["type"] == "welcome"  # same Client, fresh socket
    client.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("store")) as proc:
        yield proc


def test_wait_recovers_a_result_whose_events_went_to_a_replaced_socket(server):
    with Client(server.address) as client:
        client.connect()
        job = client.submit("count", {"n": 10, "step_ms": 100})
        client.timeout = 1e-6
        with pytest.raises(KilnError):
            client.status(job)  # times out: the socket is replaced, the job's events now go nowhere
        client.timeout = 10
        assert client.wait(job, timeout=30)["mesh"].info["total"] == 55


def test_errors_carry_code_message_and_job(server):
    with Client(server.address) as client:
        with pytest.raises(KilnError) as info:
            client.fetch("20200101-000000-00000000")
        assert info.value.code == "not_found" and info.value.job == "20200101-000000-00000000"
        with pytest.raises(KilnError) as info:
            client.unload("no-such-model")
        assert info.value.code == "not_found"
        assert client.unload()["unloaded"] == []


def test_curve_key_bundle_must_be_complete(tmp_path):
    with pytest.raises(ValueError, match="server.key"):
        load_curve_keys(tmp_path)
