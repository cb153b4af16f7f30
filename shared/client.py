"""Client for the Kiln backend: hello, submit, events, cancel, status, fetch, unload.

One :class:`Client` belongs to one thread. Every request waits for its own reply (matched by id)
with a timeout; events (progress/result/error of jobs) that arrive meanwhile are queued, never
lost. After a timeout the DEALER socket is replaced, so a stuck or restarted backend never
wedges the client; events of jobs submitted on the old socket are then recovered by
:meth:`Client.wait`, which falls back to ``status``/``fetch``. Pure stdlib + numpy + pyzmq.
"""
from __future__ import annotations

import itertools
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import zmq

from .payload import Payload, pack_payloads, unpack_payloads
from .protocol import (DEFAULT_ADDRESS, ErrorCode, JobState, Limits, MsgType, ProtocolError, decode_message,
                       encode_message)

TIMEOUT = "timeout"  # KilnError.code when the backend did not answer in time (client-side only)
EVENT_TYPES = frozenset({MsgType.PROGRESS, MsgType.RESULT, MsgType.ERROR})
CLIENT_LIMITS = Limits(max_total_bytes=2 * 1024 * 1024 * 1024, max_frames=256)
POLL_STATUS_AFTER = 3.0  # wait(): with no event for this long, ask the backend directly


class KilnError(Exception):
    """An error from the backend (``code`` is a protocol ErrorCode) or ``code == 'timeout'``."""

    def __init__(self, code: str, message: str, job: str | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.job = job


@dataclass
class CurveKeys:
    """CurveZMQ keys: the server's public key and this client's key pair (z85 bytes)."""

    server_public: bytes
    client_public: bytes
    client_secret: bytes


def load_curve_keys(directory: str | os.PathLike) -> CurveKeys:
    """Load a client bundle written by ``kiln-backend keys``: ``server.key`` + one ``*.key_secret``."""
    import zmq.auth

    directory = Path(directory)
    secrets = sorted(directory.glob("*.key_secret"))
    secrets = [p for p in secrets if p.name != "server.key_secret"]
    if not (directory / "server.key").is_file() or len(secrets) != 1:
        raise ValueError(f"{directory} must hold server.key and exactly one client .key_secret file")
    server_public, _ = zmq.auth.load_certificate(directory / "server.key")
    client_public, client_secret = zmq.auth.load_certificate(secrets[0])
    return CurveKeys(server_public, client_public, client_secret)


@dataclass
class Event:
    """A job event: type 'progress', 'result' or 'error'; payloads only for results."""

    type: str
    job: str
    header: dict
    payloads: dict[str, Payload] = field(default_factory=dict)


class Client:
    """A connection to one backend. Also a context manager (closes on exit)."""

    def __init__(self, address: str = DEFAULT_ADDRESS, *, timeout: float = 10.0,
                 curve: CurveKeys | None = None, client_name: str = ""):
        self.address, self.timeout, self.curve, self.client_name = address, timeout, curve, client_name
        self.welcome: dict | None = None
        self._context = zmq.Context.instance()
        self._socket: zmq.Socket | None = None
        self._ids = itertools.count(1)
        self._events: deque[Event] = deque()

    # -- connection -----------------------------------------------------------------------------
    def _ensure_socket(self) -> zmq.Socket:
        if self._socket is None:
            sock = self._context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            if self.curve is not None:
                sock.curve_serverkey = self.curve.server_public
                sock.curve_publickey = self.curve.client_public
                sock.curve_secretkey = self.curve.client_secret
            sock.connect(self.address)
            self._socket = sock
        return self._socket

    def _reset_socket(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def connect(self) -> dict:
        """Say hello; returns the welcome header (version, ops with param schemas, models, device)."""
        self.welcome = self._request({"type": MsgType.HELLO, "client": self.client_name})[0]
        return self.welcome

    def close(self) -> None:
        self._reset_socket()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests -------------------------------------------------------------------------------
    def _request(self, header: dict, buffers=None, timeout: float | None = None) -> tuple[dict, dict]:
        """Send one request and return (reply header, reply buffers); raise KilnError on error."""
        sock = self._ensure_socket()
        request_id = f"{os.getpid()}-{next(self._ids)}"
        frames = encode_message({**header, "id": request_id}, buffers)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            sock.send_multipart(frames, copy=False, flags=zmq.NOBLOCK)
        except zmq.Again:
            self._reset_socket()
            raise KilnError(TIMEOUT, f"could not send to {self.address} (backend unreachable)") from None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(int(remaining * 1000) + 1, zmq.POLLIN):
                self._reset_socket()
                raise KilnError(TIMEOUT, f"no reply from {self.address} within "
                                         f"{self.timeout if timeout is None else timeout:.1f} s; is the backend running?")
            reply, arrays = self._receive(sock)
            if reply is None:
                continue
            if reply.get("id") == request_id:
                if reply.get("type") == MsgType.ERROR:
                    raise KilnError(reply.get("code", ErrorCode.INTERNAL), reply.get("message", ""), reply.get("job"))
                return reply, arrays
            self._queue_event(reply, arrays)

    def _receive(self, sock: zmq.Socket) -> tuple[dict | None, dict]:
        frames = sock.recv_multipart(copy=False)
        try:
            return decode_message([f.buffer for f in frames], CLIENT_LIMITS)
        except ProtocolError:
            return None, {}  # a garbled message is dropped; the request's own timeout still applies

    def _queue_event(self, header: dict, arrays: dict) -> None:
        """Keep job events for :meth:`next_event`; stale replies (after a timeout) are dropped."""
        if header.get("type") not in EVENT_TYPES or not isinstance(header.get("job"), str) or header.get("id"):
            return
        payloads = {}
        if header["type"] == MsgType.RESULT:
            try:
                payloads = unpack_payloads(header.get("outputs"), arrays)
            except ProtocolError as exc:
                header = {"type": MsgType.ERROR, "job": header["job"], "code": ErrorCode.INTERNAL,
                          "message": f"result could not be decoded: {exc.message}"}
        self._events.append(Event(header["type"], header["job"], header, payloads))

    def submit(self, op: str, params: dict, inputs: dict[str, Payload] | None = None) -> str:
        """Submit a job; returns its id once the backend accepted it."""
        described, buffers = pack_payloads(inputs or {})
        header = {"type": MsgType.SUBMIT, "op": op, "params": params, "inputs": described,
                  "client": self.client_name}
        return self._request(header, buffers)[0]["job"]

    def cancel(self, job: str) -> dict:
        """Ask the backend to cancel ``job``; returns the job's status record."""
        return self._request({"type": MsgType.CANCEL, "job": job})[0]

    def status(self, job: str | None = None) -> dict:
        """One job's record, or ``{"jobs": [...]}`` (this client's recent jobs if it has a name)."""
        header = {"type": MsgType.STATUS}
        if job is not None:
            header["job"] = job
        elif self.client_name:
            header["client"] = self.client_name
        return self._request(header)[0]

    def fetch(self, job: str) -> dict[str, Payload]:
        """The outputs of a finished job (also after reconnecting or a backend restart)."""
        reply, arrays = self._request({"type": MsgType.FETCH, "job": job})
        try:
            return unpack_payloads(reply.get("outputs"), arrays)
        except ProtocolError as exc:
            raise KilnError(exc.code, f"result could not be decoded: {exc.message}", job) from None

    def unload(self, model: str | None = None) -> dict:
        """Free model memory on the backend (one model, or all)."""
        return self._request({"type": MsgType.UNLOAD, "model": model})[0]

    # -- events ---------------------------------------------------------------------------------
    def next_event(self, timeout: float | None) -> Event | None:
        """The next job event (any job), or None after ``timeout`` seconds (None: wait forever)."""
        if self._events:
            return self._events.popleft()
        sock = self._ensure_socket()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait_ms = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not sock.poll(wait_ms, zmq.POLLIN):
                return None
            header, arrays = self._receive(sock)
            if header is not None:
                self._queue_event(header, arrays)
            if self._events:
                return self._events.popleft()
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def wait(self, job: str, on_progress: Callable[[dict], None] | None = None,
             timeout: float | None = None) -> dict[str, Payload]:
        """Block until ``job`` finishes; returns its outputs, raises KilnError if it failed/cancelled.

        ``on_progress`` gets each progress header (fraction, stage, message). Events of other jobs
        stay queued for :meth:`next_event`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        others: list[Event] = []
        last_heard = time.monotonic()
        try:
            while True:
                slice_s = 0.5 if deadline is None else min(0.5, max(0.0, deadline - time.monotonic()))
                event = self.next_event(slice_s)
                if event is not None and event.job != job:
                    others.append(event)
                    continue
                if event is not None:
                    last_heard = time.monotonic()
                    if event.type == MsgType.PROGRESS:
                        if on_progress:
                            on_progress(event.header)
                        continue
                    if event.type == MsgType.RESULT:
                        return event.payloads
                    raise KilnError(event.header.get("code", ErrorCode.FAILED), event.header.get("message", ""), job)
                if deadline is not None and time.monotonic() >= deadline:
                    raise KilnError(TIMEOUT, f"job {job} did not finish within {timeout:.1f} s", job)
                if time.monotonic() - last_heard > POLL_STATUS_AFTER:
                    # Events stop reaching a replaced socket: ask the backend directly.
                    last_heard = time.monotonic()
                    record = self.status(job)
                    if record.get("state") in JobState.FINAL:
                        return self.fetch(job)
        finally:
            self._events.extendleft(reversed(others))
