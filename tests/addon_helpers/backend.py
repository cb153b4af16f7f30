"""A real Kiln backend process on a free loopback port, for the add-on tests."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELPERS = Path(__file__).resolve().parent
# The backend's Python; set KILN_BACKEND_PYTHON to test a bpy that lives in another environment
# (e.g. Blender 4.2's bpy in its own venv) against the project's backend.
BACKEND_PYTHON = os.environ.get("KILN_BACKEND_PYTHON", sys.executable)


class Backend:
    """``python -m backend serve`` in a subprocess; ``address`` is known once it is listening."""

    def __init__(self, store: Path, extra_ops: tuple[str, ...] = (), extra_args: tuple[str, ...] = ()):
        self.store = Path(store)
        self.extra_ops = extra_ops
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.address = ""

    def start(self, bind: str = "tcp://127.0.0.1:0", wait_s: float = 90.0) -> "Backend":
        ready = self.store / "ready.txt"
        ready.unlink(missing_ok=True)
        self.store.mkdir(parents=True, exist_ok=True)
        cmd = [BACKEND_PYTHON, "-m", "backend", "serve", "--bind", bind, "--store", str(self.store),
               "--ready-file", str(ready), "--cpu-workers", "1"]
        for module in self.extra_ops:
            cmd += ["--extra-op-module", module]
        cmd += list(self.extra_args)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HELPERS)]))
        self.log = open(self.store / "test-backend.log", "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait_s
        while not (ready.exists() and ready.read_text().strip()):
            if self.proc.poll() is not None:
                raise RuntimeError(f"backend exited with {self.proc.returncode}: {self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"backend did not start in {wait_s} s: {self.log_text()}")
            time.sleep(0.05)
        self.address = ready.read_text().strip()
        return self

    def log_text(self) -> str:
        path = self.store / "test-backend.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


_shared: dict[tuple, Backend] = {}


def shared_backend(extra_ops: tuple[str, ...] = ()) -> Backend:
    """One backend per op set for the whole test session (stopped when the process exits)."""
    key = tuple(extra_ops)
    if key not in _shared or _shared[key].proc is None or _shared[key].proc.poll() is not None:
        store = Path(tempfile.mkdtemp(prefix="kiln-test-store-"))
        _shared[key] = Backend(store, extra_ops=extra_ops).start()
        atexit.register(_shared[key].stop)
        atexit.register(shutil.rmtree, store, True)
    return _shared[key]
