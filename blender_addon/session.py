"""The add-on's live state on the main thread: connection, welcome, jobs, applying results.

:func:`get` returns the one Session. The UI drains the client thread's notes from a timer
(:func:`tick`); operators that wait, and everything under ``blender -b`` (where timers never
fire), drain them in a loop with :meth:`Session.wait_for_job`.
"""
from __future__ import annotations

import contextlib
import itertools
import queue
import time
from ipaddress import ip_address
from urllib.parse import urlsplit

import bpy

from . import results
from .backend_process import BackendProcess
from .connection import ClientThread, Note, Settings
from .jobs import FINAL_STATES, JobContext, JobRecord, JobTable

TICK_ACTIVE_S = 0.1
TICK_IDLE_S = 0.5


class SessionError(Exception):
    """A user-facing problem (not connected, op not offered...) with what to do about it."""


def is_loopback(address: str) -> bool:
    """True for tcp addresses on this machine (127.x, ::1, localhost) and ipc/inproc."""
    if not address.startswith("tcp://"):
        return address.startswith(("ipc://", "inproc://"))
    host = urlsplit(address).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class Session:
    """Connection state, the server's welcome, the job list and the local backend process."""

    def __init__(self) -> None:
        self.thread: ClientThread | None = None
        self.settings: Settings | None = None
        self.state = "disconnected"       # disconnected | connecting | connected | lost
        self.message = ""                 # last connection problem, shown in the panel
        self.welcome: dict = {}
        self.jobs = JobTable()
        self.backend = BackendProcess()
        self.reports: list[tuple[str, str]] = []   # (level, text) waiting for the status bar
        self._keys = itertools.count(1)
        self._attempt = ""                # the connect request whose answer counts

    # -- connection ---------------------------------------------------------------------------
    def check_allowed(self, address: str) -> None:
        """Refuse non-loopback addresses while Blender's online access is off."""
        if not is_loopback(address) and not bpy.app.online_access:
            raise SessionError(f"Blender's online access is disabled, so Kiln will not connect to {address}. "
                               "Enable Preferences > System > Network > Allow Online Access, or use a local backend")

    def connect(self, settings: Settings, wait: bool, retry_for: float = 0.0) -> None:
        """Connect (or reconnect) in the client thread; with ``wait``, block until it answers or fails."""
        self.check_allowed(settings.address)
        self.settings = settings
        if self.thread is None or not self.thread.alive:
            self.thread = ClientThread(settings)
            self.thread.start()
        self.state, self.message = "connecting", ""
        self._attempt = f"connect-{next(self._keys)}"
        self.thread.send("connect", settings=settings, retry_for=retry_for, attempt=self._attempt)
        if wait:
            deadline = time.monotonic() + retry_for + settings.timeout + 5.0
            while self.state == "connecting" and time.monotonic() < deadline:
                self.pump(block=0.05, push_undo=False)
                self.check_backend_alive()
            if self.state != "connected":
                raise SessionError(self.message or f"no answer from the Kiln backend at {settings.address}")

    def check_backend_alive(self) -> None:
        """Raise if the local backend this session started has exited (with the end of its log)."""
        proc = self.backend
        if proc.proc is not None and not proc.running:
            code = proc.exit_code
            proc.proc = None
            self.state = "disconnected"
            self.message = f"the local backend exited with code {code}; its log {proc.log_path} ends with:\n{proc.log_tail(4)}"
            if self.thread is not None:
                self.thread.send("disconnect")
            raise SessionError(self.message)

    def ensure_connected(self, settings: Settings) -> None:
        """Connect and wait, unless already connected with these same settings."""
        if self.state in ("connected", "lost") and self.settings == settings:
            return
        self.connect(settings, wait=True)

    def disconnect(self) -> None:
        if self.thread is not None:
            self.thread.send("disconnect")
        self.state, self.welcome = "disconnected", {}

    def shutdown(self) -> None:
        """Stop the client thread and the local backend (add-on disabled or Blender quitting)."""
        if self.thread is not None:
            self.thread.stop()
            self.thread = None
        self.backend.stop()
        self.state, self.welcome = "disconnected", {}

    # -- what the server offers ---------------------------------------------------------------
    def op_info(self, op: str) -> dict | None:
        return (self.welcome.get("ops") or {}).get(op)

    def op_support(self, op: str) -> tuple[bool, str]:
        """(True, '') if the connected server offers ``op``, else (False, why)."""
        if self.state not in ("connected", "lost"):
            return False, "not connected to a Kiln backend"
        if self.op_info(op) is None:
            return False, f"the backend at {self.settings.address} does not offer '{op}'"
        return True, ""

    def param_spec(self, op: str, name: str) -> dict | None:
        """The server's description of one parameter of ``op`` (a ParamSpec as JSON), or None."""
        info = self.op_info(op) or {}
        return next((p for p in info.get("params", []) if p.get("name") == name), None)

    def models(self) -> list[dict]:
        """The server's models as dicts with at least a 'name'."""
        found = []
        for entry in self.welcome.get("models") or []:
            found.append(entry if isinstance(entry, dict) else {"name": str(entry)})
        return found

    # -- jobs ---------------------------------------------------------------------------------
    def submit(self, op: str, params: dict, inputs: dict, ctx: JobContext, label: str) -> JobRecord:
        """Queue a job in the client thread; returns its record (state 'submitting')."""
        ok, reason = self.op_support(op)
        if not ok:
            raise SessionError(f"cannot run {op}: {reason}")
        record = self.jobs.add(JobRecord(key=f"local-{next(self._keys)}", op=op, label=label, context=ctx))
        self.thread.send("submit", key=record.key, op=op, params=params, inputs=inputs)
        return record

    def cancel(self, record: JobRecord) -> None:
        if record.job and record.active:
            self.thread.send("cancel", job=record.job)
            record.stage = "cancelling"

    def reimport(self, record: JobRecord, ctx: JobContext) -> None:
        """Fetch a finished job's outputs again and apply them with ``ctx``."""
        if not record.job:
            raise SessionError("this job never reached the server; nothing to re-import")
        record.context = ctx
        record.applied = False
        record.state, record.stage, record.message = "fetching", "fetching result", ""
        self.thread.send("fetch", key=record.key, job=record.job)

    def refresh_jobs(self) -> None:
        if self.thread is not None and self.state == "connected":
            self.thread.send("list_jobs")

    def wait_for_job(self, record: JobRecord, on_progress=None) -> JobRecord:
        """Block (draining notes on this thread) until ``record`` ends; applies its result here.

        Raises SessionError if the connection is lost meanwhile; Ctrl+C cancels the job.
        """
        record.waited = True
        try:
            while not record.final:
                self.pump(block=0.05, push_undo=bpy.app.background)
                if self.thread is None or not self.thread.alive:
                    raise SessionError("Kiln's connection was closed (add-on disabled?) while waiting for the job")
                if self.state == "lost":
                    raise SessionError(f"lost the connection to the Kiln backend while waiting for {record.op} "
                                       f"({self.message}); the job may still finish: re-import it from the Jobs panel")
                if on_progress is not None:
                    on_progress(record)
        except KeyboardInterrupt:
            self.cancel(record)
            raise
        return record

    # -- notes from the client thread ---------------------------------------------------------
    def pump(self, block: float = 0.0, push_undo: bool = True) -> bool:
        """Handle every waiting note (waiting up to ``block`` s for the first); True if any arrived."""
        if self.thread is None:
            if block:
                time.sleep(block)
            return False
        handled = False
        timeout = block
        while True:
            try:
                note = self.thread.notes.get(timeout=timeout) if timeout else self.thread.notes.get_nowait()
            except queue.Empty:
                return handled
            timeout = 0
            handled = True
            self._handle(note, push_undo)

    def _handle(self, note: Note, push_undo: bool) -> None:
        kind = note.kind
        if kind in ("connected", "connect_failed") and note.key != self._attempt:
            return  # the answer to a connect that a later one replaced
        if kind == "connected":
            self.state, self.welcome, self.message = "connected", note.data, ""
            self.refresh_jobs()
        elif kind == "connect_failed":
            self.state, self.welcome, self.message = "disconnected", {}, note.data["message"]
        elif kind == "disconnected":
            if self.state != "connecting":
                self.state, self.welcome = "disconnected", {}
        elif kind == "connection_lost":
            self.state, self.message = "lost", note.data["message"]
        elif kind == "connection_restored":
            self.state, self.message = "connected", ""
        elif kind == "jobs":
            self.jobs.merge_server_list(note.data["jobs"])
            for record in self.jobs.active():
                if record.context is None and record.job:
                    self.thread.send("watch", job=record.job)
        elif kind == "notice":
            self.reports.append((note.data.get("level", "INFO"), note.data["message"]))
        else:
            self._handle_job_note(note, push_undo)

    def _handle_job_note(self, note: Note, push_undo: bool) -> None:
        record = self.jobs.find(note.key) if note.key else self.jobs.find(note.job)
        if record is None:
            return
        kind = note.kind
        if kind == "accepted":
            record.job, record.state, record.stage = note.job, "queued", "queued"
        elif kind == "submit_failed":
            self._finish(record, "failed", note.data["message"])
        elif kind in ("progress", "status"):
            if record.active:
                record.fraction = float(note.data.get("fraction", record.fraction) or 0.0)
                record.stage = str(note.data.get("stage") or record.stage)
                record.message = str(note.data.get("message") or "")
                state = "running" if kind == "progress" else str(note.data.get("state", record.state))
                if record.context is None:  # followed only (from another session): status is all we get
                    record.state = state
                    if state == "done":
                        record.stage = "done: re-import to add it to the scene"
                elif state not in FINAL_STATES:  # our own job ends with its result or error note
                    record.state = state
        elif kind == "job_error":
            state = "cancelled" if note.data.get("code") == "cancelled" else "failed"
            self._finish(record, state, note.data.get("message", state))
        elif kind == "result":
            self._apply(record, note.payloads, push_undo)

    def _apply(self, record: JobRecord, payloads: dict, push_undo: bool) -> None:
        if record.applied:
            return
        if record.context is None:  # a job from another session: keep it for re-import
            record.state, record.fraction, record.stage = "done", 1.0, "done: re-import to add it to the scene"
            return
        try:
            record.objects = results.apply(record.context, payloads, push_undo, record.job)
        except Exception as exc:
            self._finish(record, "failed", f"could not add the result to the scene: {exc}")
            return
        record.applied = True
        record.fraction, record.stage = 1.0, "done"
        record.summary, record.warning = results.outcome(payloads)
        made = f" ({record.summary})" if record.summary else ""
        self._finish(record, "done", f"{record.op}: added {', '.join(record.objects[:3])}{made}")
        if record.warning and not record.waited:
            self.reports.append(("WARNING", f"Kiln {record.op}: {record.warning}"))

    def _finish(self, record: JobRecord, state: str, message: str) -> None:
        record.state, record.message = state, message
        if state != "done":
            record.stage = state
        if record.waited:
            return  # the waiting operator reports it itself
        level = {"done": "INFO", "cancelled": "WARNING"}.get(state, "ERROR")
        self.reports.append((level, f"Kiln {record.op} {state}: {message}"))


_session: Session | None = None


def get() -> Session:
    """The add-on's one Session (created on first use)."""
    global _session
    if _session is None:
        _session = Session()
    return _session


def drop() -> None:
    """Shut the Session down and forget it (add-on unregister)."""
    global _session
    if _session is not None:
        _session.shutdown()
        _session = None


def tick() -> float:
    """The ``bpy.app.timers`` callback: apply what arrived, redraw, report; returns the next interval."""
    session = _session
    if session is None:
        return TICK_IDLE_S
    window = _main_window()
    # Timers run without a window in the context; undo pushes and reports need one.
    with bpy.context.temp_override(window=window) if window else contextlib.nullcontext():
        changed = session.pump(push_undo=True)
        changed |= _watch_backend(session)
        if session.reports:
            _flush_reports(session)
    if changed or session.jobs.active():
        _redraw()
    return TICK_ACTIVE_S if session.jobs.active() or session.state == "connecting" else TICK_IDLE_S


def _watch_backend(session: Session) -> bool:
    try:
        session.check_backend_alive()
    except SessionError as exc:
        session.reports.append(("ERROR", f"Kiln: {exc}"))
        return True
    return False


def _main_window():
    if bpy.context.window is not None:
        return None  # already in a window context
    wm = bpy.context.window_manager
    return wm.windows[0] if wm and wm.windows else None


def _flush_reports(session: Session) -> None:
    reports, session.reports = session.reports, []
    for level, text in reports:
        if bpy.context.window is None:
            print(f"Kiln [{level}] {text}")
        else:
            bpy.ops.kiln.report("EXEC_DEFAULT", level=level, message=text)


def _redraw() -> None:
    wm = bpy.context.window_manager
    for window in (wm.windows if wm else []):
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()
