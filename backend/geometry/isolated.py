"""Run crash-prone native code (xatlas, CoACD) in a child process, so a segfault never takes the
backend down. Arrays travel through an ``.npz`` file (no pickle), parameters as JSON; the parent
polls the child, calls the cancel check while waiting, and kills it on cancel or timeout.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]


class IsolatedFailure(RuntimeError):
    """The child process crashed, timed out or reported an error."""


def run_isolated(module: str, arrays: dict[str, np.ndarray], params: dict,
                 check: Callable[[], None] | None = None, timeout: float = 600.0) -> dict[str, np.ndarray]:
    """Run ``python -m module WORKDIR`` on ``arrays``/``params``; return the arrays it wrote.

    The worker reads ``WORKDIR/in.npz`` and ``WORKDIR/params.json`` and writes ``WORKDIR/out.npz``.
    Raises :class:`IsolatedFailure` when the child dies or times out; whatever ``check`` raises
    (e.g. ``Cancelled``) propagates after the child is killed.
    """
    with tempfile.TemporaryDirectory(prefix="kiln-isolated-") as tmp:
        work = Path(tmp)
        np.savez(work / "in.npz", **arrays)
        (work / "params.json").write_text(json.dumps(params))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
        proc = subprocess.Popen([sys.executable, "-m", module, str(work)], cwd=str(REPO_ROOT), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started = time.monotonic()
        try:
            while proc.poll() is None:
                if check is not None:
                    check()
                if time.monotonic() - started > timeout:
                    raise IsolatedFailure(f"{module} took longer than {timeout:.0f} s")
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode != 0:
            how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
            tail = stderr.strip().splitlines()[-1:] or [""]
            raise IsolatedFailure(f"{module} failed ({how}) {tail[0]}".strip())
        out = work / "out.npz"
        if not out.exists():
            raise IsolatedFailure(f"{module} wrote no result")
        with np.load(out, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}


def worker_io(argv: list[str]) -> tuple[dict[str, np.ndarray], dict, Callable[[dict[str, np.ndarray]], None]]:
    """For worker modules: (input arrays, params, write(outputs))."""
    work = Path(argv[1])
    with np.load(work / "in.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    params = json.loads((work / "params.json").read_text())

    def write(outputs: dict[str, np.ndarray]) -> None:
        np.savez(work / "out.npz", **outputs)

    return arrays, params, write
