"""Call a numpy function of a ``backend.geometry`` module in a child process that can be killed:
for native libraries that can crash, hang, or ignore cancel (QuadriFlow, Instant Meshes, MeshLab).

The parent writes the input arrays to ``in.npz`` and the keyword parameters to ``params.json``
in a temporary folder, starts ``python -m backend.geometry.killable MODULE FUNCTION FOLDER`` and
polls: every 50 ms it checks the cancel token (kill + ``Cancelled`` within ~0.1 s), reports a
heartbeat at least twice a second, and enforces a time limit. The child writes ``out.npz``. No
pickle anywhere: arrays travel as ``.npy`` inside npz loaded with ``allow_pickle=False``.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from backend.ops.base import CancelToken, ProgressFn, no_progress

ALLOWED_MODULE_PREFIX = "backend.geometry."
REPO_ROOT = Path(__file__).resolve().parents[2]


class ChildFailure(RuntimeError):
    """The child process crashed, timed out or raised; ``str()`` says which, with its last output."""


def call_in_child(module: str, function: str, arrays: dict[str, np.ndarray], params: dict,
                  cancel: CancelToken | None = None, progress: ProgressFn = no_progress,
                  stage: str = "working", timeout: float = 600.0, expected_seconds: float = 10.0,
                  ) -> dict[str, np.ndarray]:
    """Call ``module.function(**arrays, **params)`` in a child process and return its arrays.

    Progress rises towards (never reaching) 1 on a curve scaled by ``expected_seconds``.
    Raises :class:`ChildFailure` on crash/timeout/exception, ``Cancelled`` on cancel.
    """
    if not module.startswith(ALLOWED_MODULE_PREFIX):
        raise ValueError(f"child functions must live in {ALLOWED_MODULE_PREFIX}*")
    with tempfile.TemporaryDirectory(prefix="kiln-child-") as folder:
        work = Path(folder)
        np.savez(work / "in.npz", **arrays)
        (work / "params.json").write_text(json.dumps(params))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
        with open(work / "log.txt", "wb") as log:
            child = subprocess.Popen([sys.executable, "-m", __name__, module, function, str(work)],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                     cwd=str(REPO_ROOT))
            try:
                _wait(child, cancel, progress, stage, timeout, expected_seconds, function)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        if child.returncode != 0 or not (work / "out.npz").exists():
            lines = (work / "log.txt").read_bytes()[-2000:].decode("utf-8", "replace").strip().splitlines()
            how = f"signal {-child.returncode}" if child.returncode < 0 else f"exit code {child.returncode}"
            raise ChildFailure(f"{function} failed ({how}): {lines[-1] if lines else 'no output'}")
        with np.load(work / "out.npz", allow_pickle=False) as data:
            return {key: data[key] for key in data.files}


def _wait(child, cancel, progress, stage, timeout, expected_seconds, function) -> None:
    started = last_report = time.monotonic()
    while child.poll() is None:
        now = time.monotonic()
        if cancel is not None and cancel.cancelled:
            child.kill()
            child.wait()
            cancel.check()
        if now - started > timeout:
            raise ChildFailure(f"{function} took longer than {timeout:.0f} s and was stopped")
        if now - last_report >= 0.4:
            elapsed = now - started
            progress(1 - math.exp(-elapsed / max(expected_seconds, 0.1)), stage, f"{elapsed:.1f} s")
            last_report = now
        time.sleep(0.05)


def _child(module: str, function: str, folder: str) -> int:
    work = Path(folder)
    with np.load(work / "in.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    params = json.loads((work / "params.json").read_text())
    result = getattr(importlib.import_module(module), function)(**arrays, **params)
    np.savez(work / "out.tmp.npz", **result)
    os.replace(work / "out.tmp.npz", work / "out.npz")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or not sys.argv[1].startswith(ALLOWED_MODULE_PREFIX):
        sys.exit("usage: python -m backend.geometry.killable backend.geometry.MODULE FUNCTION FOLDER")
    sys.exit(_child(*sys.argv[1:]))
