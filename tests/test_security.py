"""Loopback by default; CURVE keys with an allow-list for anything else."""
import signal
import subprocess
import sys
import time

import pytest

from backend.server import Server, is_local_address
from backend.store import JobStore
from shared.client import Client, KilnError, load_curve_keys
from tests.platform_helpers.server_proc import ROOT, running_server
from tests.platform_helpers.wire import RawPeer


def _keys(directory, *clients):
    args = [sys.executable, "-m", "backend", "keys", str(directory)]
    for name in clients:
        args += ["--client", name]
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize("address, local", [
    ("tcp://127.0.0.1:5555", True), ("tcp://localhost:1", True), ("tcp://[::1]:5555", True),
    ("tcp://127.3.2.1:9", True), ("ipc:///tmp/kiln.sock", True), ("tcp://0.0.0.0:5555", False),
    ("tcp://*:5555", False), ("tcp://192.168.1.4:5555", False), ("tcp://example.com:5555", False)])
def test_local_address_detection(address, local):
    assert is_local_address(address) is local


def test_non_loopback_bind_is_refused_without_keys(tmp_path):
    with pytest.raises(ValueError, match="--curve-keys"):
        Server("tcp://0.0.0.0:5555", JobStore(tmp_path), {})
    result = subprocess.run([sys.executable, "-m", "backend", "serve", "--bind", "tcp://*:5599", "--store",
                             str(tmp_path), "--device", "cpu", "--ops", "none"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--curve-keys" in result.stderr


def test_curve_keys_folder_must_hold_client_keys(tmp_path):
    _keys(tmp_path / "keys")
    for key in (tmp_path / "keys" / "authorized_clients").glob("*.key"):
        key.unlink()
    from backend.server import CurveConfig

    with pytest.raises(ValueError, match="no client public keys"):
        CurveConfig(tmp_path / "keys")
    with pytest.raises(ValueError, match="kiln-backend keys"):
        CurveConfig(tmp_path / "missing")


def test_only_allowed_clients_get_answers(tmp_path):
    keys = tmp_path / "keys"
    _keys(keys, "alice", "mallory")
    (keys / "authorized_clients" / "mallory.key").unlink()  # revoked
    with running_server(tmp_path / "store", "--curve-keys", str(keys)) as server:
        with Client(server.address, curve=load_curve_keys(keys / "clients" / "alice"), timeout=10) as alice:
            assert alice.connect()["type"] == "welcome"
            assert "mesh" in alice.wait(alice.submit("count", {"n": 1}), timeout=20)
        with Client(server.address, curve=load_curve_keys(keys / "clients" / "mallory"), timeout=1.5) as mallory:
            with pytest.raises(KilnError) as info:
                mallory.connect()
            assert info.value.code == "timeout"
        plain = RawPeer(server.address)  # no encryption at all: nothing comes back
        plain.send([b'{"kiln": 1, "type": "hello", "id": 1}'])
        assert plain.reply(1.5) is None
        plain.close()
        assert "curve on" in server.log_text()


def test_sighup_reloads_the_allow_list(tmp_path):
    keys = tmp_path / "keys"
    _keys(keys, "alice", "bob")
    (keys / "authorized_clients" / "bob.key").rename(tmp_path / "bob.key")  # bob not yet allowed
    with running_server(tmp_path / "store", "--curve-keys", str(keys)) as server:
        alice = load_curve_keys(keys / "clients" / "alice")
        bob = load_curve_keys(keys / "clients" / "bob")
        with Client(server.address, curve=bob, timeout=1.5) as client, pytest.raises(KilnError):
            client.connect()
        (tmp_path / "bob.key").rename(keys / "authorized_clients" / "bob.key")
        (keys / "authorized_clients" / "alice.key").unlink()
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "reloaded allowed client keys: bob" not in server.log_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with Client(server.address, curve=bob, timeout=10) as client:
            assert client.connect()["type"] == "welcome"
        with Client(server.address, curve=alice, timeout=1.5) as client, pytest.raises(KilnError):
            client.connect()

