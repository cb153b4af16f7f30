"""The backend server: a ZeroMQ ROUTER loop that decodes, validates, routes and replies.

Every request gets exactly one direct reply with the request's ``id`` (an ``error`` reply when it
is bad; the loop never dies on a request). Job events come from worker threads over an inproc
PUSH/PULL pair (ZeroMQ sockets are single-threaded) and are forwarded to the submitting peer.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from backend.jobs import Job, Scheduler
from backend.runtime import JobCache
from backend.store import JobStore, new_job_id
from shared.payload import ImagePayload, MeshPayload, pack_payloads, unpack_payloads
from shared.protocol import (DEFAULT_LIMITS, PROTOCOL_VERSION, ErrorCode, JobState, Limits, MsgType,
                             ProtocolError, decode_message, encode_message, error_header, validate_params)

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
MAX_CLIENT_NAME = 100
MAX_STATUS_LIST = 500
UNLOAD_WAIT_S = 2.0
PRUNE_EVERY_S = 3600.0


def is_local_address(address: str) -> bool:
    """True for loopback TCP, ipc:// and inproc:// endpoints (nothing reachable from the network)."""
    parts = urlsplit(address)
    if parts.scheme in ("ipc", "inproc"):
        return True
    host = parts.netloc.rsplit(":", 1)[0]
    return parts.scheme == "tcp" and (host in LOOPBACK_HOSTS or host.startswith("127."))


class CurveConfig:
    """Server-side CURVE material from a keys folder (see ``kiln-backend keys``)."""

    def __init__(self, directory: str | Path):
        directory = Path(directory)
        secret_file = directory / "server.key_secret"
        self.allowed_dir = directory / "authorized_clients"
        if not secret_file.is_file():
            raise ValueError(f"{secret_file} not found; create keys with: kiln-backend keys {directory}")
        if not self.allowed_dir.is_dir() or not any(self.allowed_dir.glob("*.key")):
            raise ValueError(f"no client public keys in {self.allowed_dir}; add some with: "
                             f"kiln-backend keys {directory} --client NAME")
        self.public, self.secret = zmq.auth.load_certificate(secret_file)


class Server:
    """Owns the sockets and the scheduler. ``start()``, then ``serve_forever()``; ``stop()`` from anywhere."""

    def __init__(self, address: str, store: JobStore, ops: dict[str, ModuleType], *, registry=None,
                 device: str = "cpu", curve: CurveConfig | None = None, limits: Limits = DEFAULT_LIMITS,
                 cpu_workers: int = 2, keep_days: float | None = None):
        if not is_local_address(address) and curve is None:
            raise ValueError(f"refusing to bind {address} without encryption: a non-loopback address needs "
                             "--curve-keys DIR (create one with: kiln-backend keys DIR --client NAME)")
        self.address, self.store, self.ops, self.registry = address, store, ops, registry
        self.device, self.curve, self.limits, self.keep_days = device, curve, limits, keep_days
        self._next_prune = 0.0
        self.context = zmq.Context()
        self._events_address = f"inproc://kiln-events-{id(self)}"
        self._local = threading.local()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._auth: ThreadAuthenticator | None = None
        self.scheduler = Scheduler(store, self._emit, cpu_workers=cpu_workers)
        self.welcome = self._build_welcome()
        self._handlers = {MsgType.HELLO: self._hello, MsgType.SUBMIT: self._submit, MsgType.CANCEL: self._cancel,
                          MsgType.STATUS: self._status, MsgType.FETCH: self._fetch, MsgType.UNLOAD: self._unload}

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> str:
        """Recover the store, bind, start workers. Returns the bound address (port 0 resolved)."""
        self.store.recover()
        self.router = self.context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.setsockopt(zmq.MAXMSGSIZE, 2 * self.limits.max_total_bytes)  # memory guard only
        if self.curve is not None:
            self._auth = ThreadAuthenticator(self.context)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(self.curve.allowed_dir))
            self.router.curve_secretkey = self.curve.secret
            self.router.curve_publickey = self.curve.public
            self.router.curve_server = True
        try:
            if self.address.startswith("tcp://") and self.address.endswith(":0"):
                port = self.router.bind_to_random_port(self.address[:-2])
                self.address = f"{self.address[:-2]}:{port}"
            else:
                self.router.bind(self.address)
        except zmq.ZMQError as exc:
            if self._auth is not None:
                self._auth.stop()
            self.context.destroy(linger=0)
            raise ValueError(f"cannot listen on {self.address}: {exc.strerror}; is another backend running "
                             "there? choose another --bind address") from None
        self.events = self.context.socket(zmq.PULL)
        self.events.bind(self._events_address)
        self.scheduler.start()
        return self.address

    def stop(self) -> None:
        """Ask the loop to finish (safe from signal handlers and other threads)."""
        self._stop.set()

    def reload_keys(self) -> None:
        """Ask the loop to re-read the allowed client keys (SIGHUP): add or revoke without a restart."""
        self._reload.set()

    def serve_forever(self) -> None:
        """Serve until :meth:`stop`; then shut the scheduler down cleanly and close."""
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.events, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                self._prune_if_due()
                if self._reload.is_set():
                    self._reload.clear()
                    self._reload_allowed_keys()
                ready = dict(poller.poll(200))
                if self.events in ready:
                    self._forward_events()
                if self.router in ready:
                    for _ in range(100):
                        try:
                            frames = self.router.recv_multipart(zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._handle(frames[0].bytes, [f.buffer for f in frames[1:]])
        finally:
            self._shutdown()

    def _reload_allowed_keys(self) -> None:
        if self._auth is None:
            log.info("key reload requested, but this server does not use CURVE keys")
            return
        self._auth.configure_curve(domain="*", location=str(self.curve.allowed_dir))
        names = sorted(p.stem for p in self.curve.allowed_dir.glob("*.key"))
        log.info("reloaded allowed client keys: %s", ", ".join(names) or "none")

    def _prune_if_due(self) -> None:
        """Hourly, drop finished jobs older than ``keep_days`` (when set)."""
        if self.keep_days is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        try:
            self.store.prune(self.keep_days * 86400)
        except OSError as exc:
            log.error("could not prune the job store: %s", exc)

    def _shutdown(self) -> None:
        log.info("shutting down: cancelling queued and running jobs")
        self.scheduler.shutdown()
        self._forward_events()
        if self._auth is not None:
            self._auth.stop()
        self.context.destroy(linger=200)
        log.info("stopped")

    # -- events from workers --------------------------------------------------------------------
    def _emit(self, job: Job, header: dict, outputs) -> None:
        """Called on worker threads: encode the event there and hand it to the server loop."""
        push = getattr(self._local, "push", None)
        if push is None:
            push = self._local.push = self.context.socket(zmq.PUSH)
            push.setsockopt(zmq.LINGER, 0)
            push.connect(self._events_address)
        buffers = []
        if outputs is not None:
            header["outputs"], buffers = pack_payloads(outputs)
        try:
            push.send_multipart([job.peer] + encode_message(header, buffers), copy=False)
        except zmq.ZMQError as exc:  # context closed during shutdown: the state is persisted anyway
            log.debug("event for job %s not sent: %s", job.id, exc)

    def _forward_events(self) -> None:
        while True:
            try:
                frames = self.events.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self.router.send_multipart(frames, copy=False)

    # -- requests -------------------------------------------------------------------------------
    def _handle(self, peer: bytes, frames: list) -> None:
        request_id, buffers = None, []
        try:
            request_id = _peek_id(frames[0]) if frames else None
            header, arrays = decode_message(frames, self.limits)
            request_id = header.get("id")
            if not (request_id is None or isinstance(request_id, (str, int))) or len(str(request_id)) > 200:
                request_id = None
                raise ProtocolError(ErrorCode.BAD_REQUEST, "'id' must be a string or integer")
            handler = self._handlers.get(header["type"])
            if handler is None:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown request type {header['type']!r}; expected one "
                                    f"of {', '.join(sorted(MsgType.REQUESTS))}")
            reply, buffers = handler(peer, header, arrays)
        except ProtocolError as exc:
            reply = error_header(request_id, exc.code, exc.message, exc.job)
            log.info("request %r rejected: %s: %s", request_id, exc.code, exc.message)
        except Exception as exc:  # a bug must cost one request, never the server
            log.exception("request %r failed", request_id)
            reply = error_header(request_id, ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        reply["id"] = request_id
        try:
            frames_out = encode_message(reply, buffers)
        except (ValueError, ProtocolError) as exc:
            log.exception("reply to %r could not be encoded", request_id)
            frames_out = encode_message(error_header(request_id, ErrorCode.INTERNAL, f"reply not encodable: {exc}"))
        self.router.send_multipart([peer] + frames_out, copy=False)

    def _build_welcome(self) -> dict:
        ops = {}
        for name, module in sorted(self.ops.items()):
            ops[name] = {"summary": getattr(module, "SUMMARY", ""), "resource": getattr(module, "RESOURCE", "cpu"),
                         "inputs": {k: spec.to_json() for k, spec in getattr(module, "INPUTS", {}).items()},
                         "params": [spec.to_json() for spec in module.params_schema()]}
        models = [entry.describe() for entry in self.registry.entries()] if self.registry else []
        return {"type": MsgType.WELCOME, "version": PROTOCOL_VERSION, "ops": ops, "models": models,
                "device": self.device}

    def _hello(self, peer, header, arrays):
        _no_buffers(arrays)
        return dict(self.welcome), []

    def _submit(self, peer, header, arrays):
        op = header.get("op")
        if not isinstance(op, str) or op not in self.ops:
            raise ProtocolError(ErrorCode.UNKNOWN_OP, f"unknown op {op!r}; this backend offers: "
                                f"{', '.join(sorted(self.ops)) or 'nothing (no op is available)'}")
        module = self.ops[op]
        params = validate_params(module.params_schema(), header.get("params"))
        inputs = unpack_payloads(header.get("inputs"), arrays)
        _check_inputs(op, getattr(module, "INPUTS", {}), inputs)
        client = header.get("client", "")
        if not isinstance(client, str) or len(client) > MAX_CLIENT_NAME:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"'client' must be a string of at most {MAX_CLIENT_NAME} characters")
        request = {"op": op, "params": params, "client": client, "inputs": {n: _summary(p) for n, p in inputs.items()}}
        if params.get("from_job"):
            inputs = self._reuse(op, params["from_job"], inputs)
        job = Job(id=new_job_id(), op=op, module=module, params=params, inputs=inputs, client=client, peer=peer)
        self.scheduler.submit(job, request)
        log.info("job %s: %s queued for client %r", job.id, op, client)
        return {"type": MsgType.ACCEPTED, "job": job.id}, []

    def _reuse(self, op: str, earlier: str, inputs: dict) -> dict:
        """Inputs of a job that continues ``earlier`` (param ``from_job``): that job's kept cache
        (``inputs['cache']``) and, unless one was sent, its output mesh."""
        try:
            record = self.store.load_state(earlier)
        except (KeyError, ValueError):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no job {earlier!r} to continue from") from None
        if record.get("op") != op or record.get("state") != JobState.DONE:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"job {earlier!r} is a {record.get('state')} {record.get('op')} job; "
                                f"from_job needs a finished {op} job")
        try:
            cache = self.store.load_cache(earlier)
        except KeyError:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"job {earlier!r} kept no cache to continue from "
                                "(it ran without a model); submit the mesh again") from None
        inputs = dict(inputs)
        if "mesh" not in inputs:
            inputs["mesh"] = self.store.load_outputs(earlier)["mesh"]
        inputs["cache"] = JobCache(cache)
        return inputs

    def _job_record(self, header) -> dict:
        job = header.get("job")
        if not isinstance(job, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "'job' must be a job id string")
        live = self.scheduler.get(job)
        if live is not None:
            return live.record()
        try:
            return self.store.load_state(job)
        except KeyError:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no job {job!r} on this backend", job) from None

    def _cancel(self, peer, header, arrays):
        _no_buffers(arrays)
        record = self._job_record(header)
        if record["state"] not in JobState.FINAL:
            record = self.scheduler.cancel(record["job"]) or self._job_record(header)
        return {"type": MsgType.STATUS, **record}, []

    def _status(self, peer, header, arrays):
        _no_buffers(arrays)
        if header.get("job") is not None:
            return {"type": MsgType.STATUS, **self._job_record(header)}, []
        client, limit = header.get("client"), header.get("limit", 50)
        if client is not None and not isinstance(client, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "'client' must be a string")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_STATUS_LIST:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"'limit' must be an integer in 1..{MAX_STATUS_LIST}")
        live = {job.id: job.record() for job in self.scheduler.active()}
        jobs = [live.get(r["job"], r) for r in self.store.list_states(client, limit)]
        return {"type": MsgType.STATUS, "jobs": jobs}, []

    def _fetch(self, peer, header, arrays):
        _no_buffers(arrays)
        record = self._job_record(header)
        state, job = record["state"], record["job"]
        if state == JobState.DONE:
            described, buffers = pack_payloads(self.store.load_outputs(job))
            return {"type": MsgType.RESULT, "job": job, "outputs": described}, buffers
        if state in (JobState.FAILED, JobState.CANCELLED):
            error = record.get("error") or {"code": ErrorCode.FAILED, "message": record.get("message", "")}
            raise ProtocolError(error["code"], error["message"], job)
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"job {job} is {state}; fetch it once it is done")

    def _unload(self, peer, header, arrays):
        _no_buffers(arrays)
        model = header.get("model")
        if self.registry is None:
            return {"type": MsgType.STATUS, "unloaded": [], "loaded": []}, []
        if model is not None:
            known = [entry.name for entry in self.registry.entries()]
            if model not in known:
                raise ProtocolError(ErrorCode.NOT_FOUND, f"unknown model {model!r}; known: {', '.join(known) or 'none'}")
        # The registry lock is held while a model loads; never let that stall the request loop.
        done: dict = {}
        worker = threading.Thread(target=lambda: done.update(unloaded=self.registry.unload(model)),
                                  name="kiln-unload", daemon=True)
        worker.start()
        worker.join(UNLOAD_WAIT_S)
        if "unloaded" not in done:
            return {"type": MsgType.STATUS, "unloaded": [], "pending": True,
                    "message": "a model is being loaded; it will be unloaded as soon as that finishes"}, []
        return {"type": MsgType.STATUS, "unloaded": done["unloaded"], "loaded": self.registry.loaded()}, []


def _peek_id(frame) -> str | int | None:
    """Best-effort request id from a header that may fail validation, so the error reply matches."""
    try:
        if len(frame) > DEFAULT_LIMITS.max_header_bytes:
            return None
        value = json.loads(bytes(frame)).get("id")
    except (ValueError, AttributeError, TypeError):
        return None
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) and len(str(value)) <= 200 else None


def _no_buffers(arrays: dict) -> None:
    if arrays:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "this request carries no buffers")


def _check_inputs(op: str, specs: dict, inputs: dict) -> None:
    unknown = sorted(set(inputs) - set(specs))
    if unknown:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{op} has no input(s) {', '.join(unknown)}; "
                            f"it takes: {', '.join(sorted(specs)) or 'none'}")
    for name, spec in specs.items():
        item = inputs.get(name)
        if item is None:
            if spec.required:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{op} needs a {spec.kind} input named {name!r}")
            continue
        kind = "mesh" if isinstance(item, MeshPayload) else "image"
        if kind != spec.kind:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{op} input {name!r} must be a {spec.kind}, got a {kind}")
        item.validate(name)  # meshes must not be empty here


def _summary(item) -> dict:
    if isinstance(item, ImagePayload):
        return {"kind": "image", "shape": list(item.pixels.shape)}
    return {"kind": "mesh", "vertices": item.num_vertices, "faces": item.num_faces}
