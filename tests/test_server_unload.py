"""`unload` frees models through the registry and never stalls the request loop while one loads."""
import threading
import time

import pytest

from backend.models.registry import ModelEntry, ModelRegistry
from backend.server import Server
from backend.store import JobStore
from shared.client import Client


def _entry(name, load):
    return ModelEntry(name=name, capability="shape", description="test model", license="CC0",
                      conditioning=("text",), load=load)


@pytest.fixture
def served(tmp_path):
    release = threading.Event()
    registry = ModelRegistry(device="cpu")
    registry.register(_entry("quick", lambda device: object()))
    registry.register(_entry("slow", lambda device: release.wait(30) and object()))
    server = Server("tcp://127.0.0.1:0", JobStore(tmp_path), {}, registry=registry)
    address = server.start()
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield address, registry, release
    release.set()
    server.stop()
    thread.join(30)


def test_unload_frees_a_loaded_model(served):
    address, registry, _ = served
    registry.get("quick")
    with Client(address) as client:
        assert [m["name"] for m in client.connect()["models"]] == ["quick", "slow"]
        reply = client.unload("quick")
    assert reply["unloaded"] == ["quick"] and reply["loaded"] == []


def test_unload_during_a_model_load_answers_at_once(served):
    address, registry, release = served
    loader = threading.Thread(target=registry.get, args=("slow",))
    loader.start()
    time.sleep(0.2)
    with Client(address, timeout=10) as client:
        start = time.monotonic()
        reply = client.unload()
        assert time.monotonic() - start < 5 and reply["pending"] is True
        assert client.status()["jobs"] == []  # the loop kept serving
    release.set()
    loader.join(10)
    deadline = time.monotonic() + 10
    while registry.loaded():  # the pending unload runs as soon as the load finishes, as promised
        assert time.monotonic() < deadline, registry.loaded()
        time.sleep(0.05)
