"""A local backend process started by the add-on: start, watch, stop, keep its log."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path


class BackendProcessError(Exception):
    """The backend could not be started; the message says what to change."""


class BackendProcess:
    """One ``kiln-backend serve`` child process whose output goes to a log file."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.command: list[str] = []

    def command_for(self, python: str, arguments: str, address: str, store: str) -> list[str]:
        """The argv to run: ``python`` plus ``arguments`` with {address} and {store} filled in."""
        if not python.strip():
            raise BackendProcessError("set 'Backend Python' in the Kiln add-on preferences to the Python "
                                      "that has Kiln's backend installed (e.g. <kiln>/.venv/bin/python)")
        exe = shutil.which(python) or python
        if not Path(exe).is_file():
            raise BackendProcessError(f"backend Python '{python}' does not exist; fix it in the add-on preferences")
        try:
            args = shlex.split(arguments.format(address=address, store=store), posix=os.name != "nt")
        except (KeyError, IndexError, ValueError) as exc:
            raise BackendProcessError(f"backend arguments are malformed ({exc}); use {{address}} and {{store}}")
        return [exe, *args]

    def start(self, command: list[str], workdir: str, log_path: Path) -> None:
        """Start the process (stopping a previous one) with stdout and stderr going to ``log_path``."""
        self.stop()
        if workdir and not Path(workdir).is_dir():
            raise BackendProcessError(f"backend working folder '{workdir}' does not exist")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self.command = command
        flags = {"start_new_session": True} if os.name != "nt" else {
            "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        with open(log_path, "ab") as log:
            log.write(f"\n--- kiln: starting {shlex.join(command)}\n".encode())
            log.flush()
            try:
                self.proc = subprocess.Popen(command, cwd=workdir or None, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, **flags)
            except OSError as exc:
                raise BackendProcessError(f"could not start the backend: {exc}") from None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the log, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_bytes()[-8192:].decode("utf-8", "replace")
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process (kill it if it does not exit within ``timeout``)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

