"""The client thread: the only code that touches the ZeroMQ socket.

The main thread sends commands (connect, submit, cancel, fetch, list jobs, disconnect) through a
queue; the thread answers with :class:`Note` objects on another queue, which the main thread
drains (from a ``bpy.app.timers`` timer, or in a loop while an operator waits). This module never
imports bpy, so nothing here can touch Blender data by accident.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

from .shared.client import TIMEOUT, Client, KilnError, load_curve_keys

EVENT_POLL_S = 0.05
STATUS_EVERY_S = 1.0


@dataclass
class Settings:
    """How to reach the backend."""

    address: str
    timeout: float = 10.0
    curve_dir: str = ""
    client_name: str = "blender"


@dataclass
class Note:
    """A message from the client thread to the main thread.

    kinds: connected, connect_failed, disconnected, connection_lost, connection_restored,
    accepted, submit_failed, progress, status, result, job_error, jobs, notice.
    """

    kind: str
    key: str = ""
    job: str = ""
    data: dict = field(default_factory=dict)
    payloads: dict = field(default_factory=dict)


def describe(exc: BaseException, address: str) -> str:
    """A sentence that says what went wrong talking to the backend and what to do."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if getattr(exc, "code", "") == TIMEOUT:
        return (f"{text.rstrip('.?')}? Start it from the Kiln panel (Start Local Backend) or with "
                f"'kiln-backend serve --bind {address}', or fix the address in the add-on preferences")
    return text


class ClientThread:
    """Owns one :class:`Client` on a daemon thread; talk to it with :meth:`send`, read :attr:`notes`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.notes: queue.Queue[Note] = queue.Queue()
        self._commands: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._client: Client | None = None
        self._watched: dict[str, bool] = {}   # unfinished job -> fetch its result when done?
        self._lost = False
        self._next_status = 0.0
        self._thread = threading.Thread(target=self._run, name="kiln-client", daemon=True)

    # -- main-thread side ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def send(self, kind: str, **args) -> None:
        """Queue a command: connect, submit(key, op, params, inputs), watch(job), cancel(job),
        fetch(key, job), list_jobs, unload, disconnect."""
        self._commands.put((kind, args))

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to close the socket and exit; True if it did within ``timeout``."""
        self._stop.set()
        self._commands.put(("stop", {}))
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- thread side --------------------------------------------------------------------------
    def _post(self, kind: str, **fields) -> None:
        self.notes.put(Note(kind, **fields))

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._handle_commands(block=self._client is None)
                if self._client is not None and not self._stop.is_set():
                    self._drain_events(EVENT_POLL_S)
                    self._poll_watched()
        finally:
            self._close()

    def _handle_commands(self, block: bool) -> None:
        try:
            kind, args = self._commands.get(timeout=0.1) if block else self._commands.get_nowait()
        except queue.Empty:
            return
        while True:
            if kind == "stop":
                return
            try:
                getattr(self, f"_cmd_{kind}")(**args)
            except Exception as exc:  # the thread must survive anything a command does
                self._post("notice", data={"level": "ERROR", "message": f"Kiln client: {kind} failed: {exc}"})
            try:
                kind, args = self._commands.get_nowait()
            except queue.Empty:
                return

    def _close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def _ensure_client(self) -> Client:
        if self._client is None:  # the main thread connects first; this only races a disconnect
            raise KilnError("internal", f"not connected to {self.settings.address}; press Connect")
        return self._client

    def _cmd_connect(self, settings: Settings | None = None, retry_for: float = 0.0, attempt: str = "") -> None:
        if settings is not None:
            self.settings = settings
        self._close()
        s = self.settings
        deadline = time.monotonic() + retry_for
        while True:
            try:
                curve = load_curve_keys(s.curve_dir) if s.curve_dir else None
                client = Client(s.address, timeout=s.timeout, curve=curve, client_name=s.client_name)
                try:
                    welcome = client.connect()
                except BaseException:
                    client.close()
                    raise
            except Exception as exc:
                if time.monotonic() < deadline and not self._stop.is_set():
                    time.sleep(0.5)
                    continue
                self._post("connect_failed", key=attempt, data={"message": describe(exc, s.address)})
                return
            break
        self._client = client
        self._lost = False
        self._post("connected", key=attempt, data=welcome)

    def _cmd_disconnect(self) -> None:
        self._close()
        self._watched.clear()
        self._post("disconnected", data={"message": "disconnected"})

    def _cmd_submit(self, key: str, op: str, params: dict, inputs: dict) -> None:
        try:
            job = self._ensure_client().submit(op, params, inputs)
        except Exception as exc:
            code = getattr(exc, "code", "internal")
            self._post("submit_failed", key=key, data={"code": code, "message": describe(exc, self.settings.address)})
            return
        self._watched[job] = True
        self._post("accepted", key=key, job=job)

    def _cmd_watch(self, job: str) -> None:
        """Follow a job submitted elsewhere (another session) until it ends, without fetching it."""
        self._watched.setdefault(job, False)

    def _cmd_cancel(self, job: str) -> None:
        try:
            self._ensure_client().cancel(job)
        except Exception as exc:
            self._post("notice", job=job, data={"level": "WARNING",
                                                "message": f"could not cancel {job}: {describe(exc, self.settings.address)}"})

    def _cmd_fetch(self, key: str, job: str) -> None:
        try:
            payloads = self._ensure_client().fetch(job)
        except Exception as exc:
            self._post("job_error", key=key, job=job, data={"code": getattr(exc, "code", "internal"),
                                                            "message": describe(exc, self.settings.address)})
            return
        self._post("result", key=key, job=job, payloads=payloads)

    def _cmd_unload(self) -> None:
        try:
            reply = self._ensure_client().unload()
        except Exception as exc:
            self._post("notice", data={"level": "WARNING", "message": describe(exc, self.settings.address)})
            return
        names = ", ".join(reply.get("unloaded") or []) or "nothing was loaded"
        self._post("notice", data={"level": "INFO", "message": f"Kiln: freed model memory ({names})"})

    def _cmd_list_jobs(self) -> None:
        try:
            reply = self._ensure_client().status()
        except Exception as exc:
            self._post("notice", data={"level": "WARNING", "message": describe(exc, self.settings.address)})
            return
        self._post("jobs", data={"jobs": list(reply.get("jobs", []))})

    def _drain_events(self, timeout: float) -> None:
        client = self._client
        while client is not None:
            try:
                event = client.next_event(timeout)
            except Exception as exc:
                self._connection_trouble(exc)
                return
            if event is None:
                return
            timeout = 0
            self._forward(event)

    def _forward(self, event) -> None:
        header = event.header
        if event.type == "progress":
            self._post("progress", job=event.job, data={"fraction": float(header.get("fraction", 0.0)),
                                                        "stage": str(header.get("stage", "")),
                                                        "message": str(header.get("message", ""))})
        elif event.type == "result":
            self._watched.pop(event.job, None)
            self._post("result", job=event.job, payloads=event.payloads)
        elif event.type == "error":
            self._watched.pop(event.job, None)
            self._post("job_error", job=event.job, data={"code": header.get("code", "failed"),
                                                         "message": str(header.get("message", ""))})

    def _poll_watched(self) -> None:
        """Ask about unfinished jobs once a second: detects a dead backend and results we missed."""
        if not self._watched or time.monotonic() < self._next_status:
            return
        self._next_status = time.monotonic() + STATUS_EVERY_S
        for job in list(self._watched):
            try:
                reply = self._client.status(job)
            except KilnError as exc:
                if exc.code == "not_found":
                    self._watched.pop(job, None)
                    self._post("job_error", job=job, data={"code": "not_found", "message": exc.message})
                    continue
                self._connection_trouble(exc)
                return
            except Exception as exc:
                self._connection_trouble(exc)
                return
            if self._lost:
                self._lost = False
                self._post("connection_restored")
            self._drain_events(0)  # a result may have arrived while we asked
            if job not in self._watched:
                continue
            info = reply
            state = info.get("state", "")
            self._post("status", job=job, data=info)
            if state == "done":
                if self._watched.pop(job):
                    self._cmd_fetch("", job)
            elif state in ("failed", "cancelled"):
                self._watched.pop(job, None)
                error = info.get("error") if isinstance(info.get("error"), dict) else {}
                self._post("job_error", job=job, data={"code": error.get("code", state),
                                                       "message": str(error.get("message") or info.get("message")
                                                                      or state)})

    def _connection_trouble(self, exc: BaseException) -> None:
        if not self._lost:
            self._lost = True
            self._post("connection_lost", data={"message": describe(exc, self.settings.address)})
