"""Run `kiln-backend serve` in a subprocess on a free loopback port, as users do."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_OPS = ("tests.platform_helpers.count_op", "tests.platform_helpers.model_count_op")


@dataclass
class ServerProcess:
    address: str
    process: subprocess.Popen
    store: Path

    def log_text(self) -> str:
        path = self.store / "kiln-backend.log"
        return path.read_text() if path.exists() else ""


def start_server(store: Path, *extra_args: str, test_ops: bool = True, real_ops: str = "none",
                 bind: str = "tcp://127.0.0.1:0", timeout: float = 180.0) -> ServerProcess:
    """Start a backend and wait until it serves; raises with its output if it fails to start.

    ``real_ops`` is passed as ``--ops``: platform tests serve only the test ops unless they ask.
    """
    store.mkdir(parents=True, exist_ok=True)
    ready = store / "ready.txt"
    ready.unlink(missing_ok=True)
    command = [sys.executable, "-m", "backend", "serve", "--bind", bind, "--store", str(store),
               "--device", "cpu", "--ready-file", str(ready), "--ops", real_ops, *extra_args]
    if test_ops:
        for module in TEST_OPS:
            command += ["--extra-op-module", module]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # stderr goes to a file, not a pipe: an undrained pipe would block a chatty server.
    with open(store / "stderr.txt", "ab") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + timeout
    while not ready.exists() or not ready.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"server did not start: {(store / 'stderr.txt').read_text()[-3000:]}")
        time.sleep(0.05)
    return ServerProcess(ready.read_text(), process, store)


def stop_server(server: ServerProcess, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
    """Signal the server and wait for it to exit; returns its exit code."""
    if server.process.poll() is None:
        server.process.send_signal(sig)
    try:
        return server.process.wait(timeout)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@contextlib.contextmanager
def running_server(store: Path, *extra_args: str, **kwargs):
    server = start_server(store, *extra_args, **kwargs)
    try:
        yield server
    finally:
        stop_server(server)
