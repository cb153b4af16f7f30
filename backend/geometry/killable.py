"""Call a numpy function of a ``backend.geometry`` module in a child process that can be killed:
for native libraries that can crash, hang, or ignore cancel (QuadriFlow, Instant Meshes, MeshLab).

Children are warm workers (``python -m backend.geometry.killable --serve``) reused across calls,
so a call does not pay Python's and numpy's start-up. Per call the parent writes the input arrays
to ``in.npz`` and the keyword parameters to ``params.json`` in a temporary folder and sends the
folder as one JSON line; the worker writes ``out.npz`` and answers 'ok' or 'error: ...'. The
parent polls every 50 ms: cancel kills the worker (``Cancelled`` within ~0.1 s), a heartbeat
goes out at least twice a second, and a time limit applies. A crash costs only that worker.
No pickle anywhere: arrays travel as ``.npy`` inside npz loaded with ``allow_pickle=False``.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from backend.runtime import CancelToken, ProgressFn, no_progress

ALLOWED_MODULE_PREFIX = "backend.geometry."
REPO_ROOT = Path(__file__).resolve().parents[2]


class ChildFailure(RuntimeError):
    """The child process crashed, timed out or raised; ``str()`` says which, with its last output."""


class _Worker:
    """A warm child: ``python -m backend.geometry.killable --serve`` reading jobs from stdin."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
        self.proc = subprocess.Popen([sys.executable, "-m", __name__, "--serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(REPO_ROOT))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()


_POOL: list[_Worker] = []
_POOL_LOCK = threading.Lock()
MAX_IDLE_WORKERS = 4


def _take_worker() -> _Worker:
    with _POOL_LOCK:
        while _POOL:
            worker = _POOL.pop()
            if worker.alive():
                return worker
    return _Worker()


def _return_worker(worker: _Worker) -> None:
    with _POOL_LOCK:
        if worker.alive() and len(_POOL) < MAX_IDLE_WORKERS:
            _POOL.append(worker)
            return
    worker.kill()


def prewarm(count: int = 3) -> None:
    """Start ``count`` idle workers now (numpy imported) so the first calls skip the start-up."""
    with _POOL_LOCK:
        missing = max(0, min(count, MAX_IDLE_WORKERS) - len(_POOL))
        _POOL.extend(_Worker() for _ in range(missing))


def call_in_child(module: str, function: str, arrays: dict[str, np.ndarray], params: dict,
                  cancel: CancelToken | None = None, progress: ProgressFn = no_progress,
                  stage: str = "working", timeout: float = 600.0, expected_seconds: float = 10.0,
                  ) -> dict[str, np.ndarray]:
    """Call ``module.function(**arrays, **params)`` in a (warm, reused) child process and return
    its arrays.

    Progress rises towards (never reaching) 1 on a curve scaled by ``expected_seconds``.
    Raises :class:`ChildFailure` on crash/timeout/exception, ``Cancelled`` on cancel (the child
    is killed; a crashed or killed child is replaced by a fresh one on the next call).
    """
    if not module.startswith(ALLOWED_MODULE_PREFIX):
        raise ValueError(f"child functions must live in {ALLOWED_MODULE_PREFIX}*")
    with tempfile.TemporaryDirectory(prefix="kiln-child-") as folder:
        work = Path(folder)
        np.savez(work / "in.npz", **arrays)
        (work / "params.json").write_text(json.dumps(params))
        worker = _take_worker()
        try:
            worker.proc.stdin.write((json.dumps({"module": module, "function": function, "folder": str(work)})
                                     + "\n").encode())
            worker.proc.stdin.flush()
            status = _wait(worker, cancel, progress, stage, timeout, expected_seconds, function)
        except BaseException:
            worker.kill()
            raise
        if status is None:  # the child died
            code = worker.proc.wait()
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            raise ChildFailure(f"{function} failed ({how}): {_last_line(work)}")
        _return_worker(worker)
        if status != "ok" or not (work / "out.npz").exists():
            raise ChildFailure(f"{function} failed: {_last_line(work)}")
        with np.load(work / "out.npz", allow_pickle=False) as data:
            return {key: data[key] for key in data.files}


def _last_line(work: Path) -> str:
    log = work / "log.txt"
    lines = log.read_bytes()[-2000:].decode("utf-8", "replace").strip().splitlines() if log.exists() else []
    return lines[-1] if lines else "no output"


def _wait(worker: _Worker, cancel, progress, stage, timeout, expected_seconds, function) -> str | None:
    """The worker's status line for this job, or None if it died."""
    started = last_report = time.monotonic()
    stream = worker.proc.stdout
    while True:
        ready, _, _ = select.select([stream], [], [], 0.05)
        if ready:
            line = stream.readline()
            return line.decode().strip() if line else None
        if not worker.alive():
            return None
        now = time.monotonic()
        if cancel is not None and cancel.cancelled:
            worker.kill()
            cancel.check()
        if now - started > timeout:
            raise ChildFailure(f"{function} took longer than {timeout:.0f} s and was stopped")
        if now - last_report >= 0.4:
            elapsed = now - started
            progress(1 - math.exp(-elapsed / max(expected_seconds, 0.1)), stage, f"{elapsed:.1f} s")
            last_report = now


def _run_job(module: str, function: str, folder: str) -> None:
    work = Path(folder)
    with np.load(work / "in.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    params = json.loads((work / "params.json").read_text())
    result = getattr(importlib.import_module(module), function)(**arrays, **params)
    np.savez(work / "out.tmp.npz", **result)
    os.replace(work / "out.tmp.npz", work / "out.npz")


def _serve() -> int:
    """Worker loop: one JSON job per stdin line; native output goes to the job's log.txt (fd 1 and
    2 are redirected), the status line ('ok' or 'error: ...') to the original stdout."""
    status_out = os.fdopen(os.dup(1), "w")
    for line in sys.stdin:
        job = json.loads(line)
        if not job["module"].startswith(ALLOWED_MODULE_PREFIX):
            status_out.write("error: module not allowed\n")
            status_out.flush()
            continue
        log = os.open(Path(job["folder"]) / "log.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        try:
            _run_job(job["module"], job["function"], job["folder"])
            status = "ok"
        except Exception as exc:  # noqa: BLE001 - reported to the parent, the worker lives on
            traceback.print_exc()
            status = f"error: {type(exc).__name__}: {exc}".replace("\n", " ")[:500]
        sys.stdout.flush()
        sys.stderr.flush()
        status_out.write(status + "\n")
        status_out.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        sys.exit("usage: python -m backend.geometry.killable --serve  (jobs as JSON lines on stdin)")
    sys.exit(_serve())
