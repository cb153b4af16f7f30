"""Jobs and the scheduler: one model worker (one GPU) beside a small CPU pool, fair across clients.

A job runs ``op.run(inputs, params, progress, cancel)`` on the worker of its op's RESOURCE.
Queues are per client and served round-robin, so one client's burst cannot starve another.
Progress is forwarded at most every 0.1 s (stage changes at once) and re-sent as a heartbeat when
an op is quiet, so a running job reports at least once a second. Every state change is persisted.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable

from backend.runtime import Cancelled, CancelToken, JobCache, OpError
from backend.store import JobStore
from shared.payload import ImagePayload, MeshPayload, Payload
from shared.protocol import ErrorCode, JobState, MsgType, ProtocolError, json_safe

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.1   # seconds between forwarded progress reports of one job
HEARTBEAT_INTERVAL = 0.5  # a quiet running job has its last progress re-sent after this long
SHUTDOWN_REASON = "the backend shut down while the job was {state}"

Emit = Callable[["Job", dict, "dict[str, Payload] | None"], None]


@dataclass(eq=False)
class Job:
    """One submitted job; ``record()`` is what ``status`` shows and what the store keeps."""

    id: str
    op: str
    module: ModuleType
    params: dict
    inputs: dict
    client: str
    peer: bytes
    resource: str = "cpu"
    state: str = JobState.QUEUED
    fraction: float = 0.0
    stage: str = "queued"
    message: str = ""
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    error: dict | None = None
    token: CancelToken = field(default_factory=CancelToken)
    cancel_reason: str = "cancelled by request"
    last_sent: float = 0.0

    @property
    def fairness_key(self) -> str:
        return self.client or self.peer.hex()

    def record(self) -> dict:
        record = {"job": self.id, "op": self.op, "state": self.state, "fraction": round(self.fraction, 4),
                  "stage": self.stage, "message": self.message, "created": self.created,
                  "started": self.started, "finished": self.finished, "client": self.client,
                  "params": self.params}
        if self.error:
            record["error"] = self.error
        return record

    def progress_header(self) -> dict:
        return {"type": MsgType.PROGRESS, "job": self.id, "fraction": self.fraction,
                "stage": self.stage, "message": self.message}


class FairQueue:
    """Per-client FIFO queues served round-robin."""

    def __init__(self) -> None:
        self._queues: OrderedDict[str, deque[Job]] = OrderedDict()

    def put(self, job: Job) -> None:
        self._queues.setdefault(job.fairness_key, deque()).append(job)

    def pop(self) -> Job | None:
        """The next job: the oldest of the client whose turn it is."""
        if not self._queues:
            return None
        key = next(iter(self._queues))
        queue = self._queues[key]
        job = queue.popleft()
        if queue:
            self._queues.move_to_end(key)
        else:
            del self._queues[key]
        return job

    def remove(self, job: Job) -> bool:
        queue = self._queues.get(job.fairness_key)
        if queue is None or job not in queue:
            return False
        queue.remove(job)
        if not queue:
            del self._queues[job.fairness_key]
        return True

    def drain(self) -> list[Job]:
        jobs = [job for queue in self._queues.values() for job in queue]
        self._queues.clear()
        return jobs

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())


class Scheduler:
    """Runs jobs on worker threads; ``emit(job, header, outputs)`` must be thread-safe."""

    def __init__(self, store: JobStore, emit: Emit, cpu_workers: int = 2):
        self.store = store
        self.emit = emit
        self._queues = {"model": FairQueue(), "cpu": FairQueue()}
        self._active: dict[str, Job] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [threading.Thread(target=self._worker, args=("model",), name="kiln-model-worker", daemon=True)]
        self._threads += [threading.Thread(target=self._worker, args=("cpu",), name=f"kiln-cpu-worker-{i}", daemon=True)
                          for i in range(max(1, cpu_workers))]
        self._heartbeat = threading.Thread(target=self._beat, name="kiln-heartbeat", daemon=True)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        self._heartbeat.start()

    def submit(self, job: Job, request: dict) -> None:
        """Persist and queue a job; its first progress event says how many jobs are ahead of it."""
        job.resource = "model" if getattr(job.module, "RESOURCE", "cpu") == "model" else "cpu"
        with self._cond:
            if self._stopping:
                raise ProtocolError(ErrorCode.INTERNAL, "the backend is shutting down; submit again later")
            ahead = len(self._queues[job.resource]) + sum(
                1 for other in self._active.values() if other.resource == job.resource and other.state == JobState.RUNNING)
            job.message = f"waiting for the {job.resource} worker: {ahead} job(s) ahead"
            self.store.create(job.record(), request)
            self._active[job.id] = job
            self._queues[job.resource].put(job)
            self._cond.notify_all()
        self.emit(job, job.progress_header(), None)

    def get(self, job_id: str) -> Job | None:
        """The live (queued or running) job, if any."""
        with self._cond:
            return self._active.get(job_id)

    def active(self) -> list[Job]:
        with self._cond:
            return list(self._active.values())

    def cancel(self, job_id: str, reason: str = "cancelled by request") -> dict | None:
        """Cancel a live job: a queued one at once, a running one via its token. None if not live."""
        with self._cond:
            job = self._active.get(job_id)
            if job is None:
                return None
            job.cancel_reason = reason
            if job.state == JobState.QUEUED and self._queues[job.resource].remove(job):
                self._finish(job, JobState.CANCELLED, reason)
            else:
                job.token.cancel()
                job.message = "cancelling"
            return job.record()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything, wait up to ``timeout`` for running ops to stop, persist final states."""
        with self._cond:
            self._stopping = True
            for queue in self._queues.values():
                for job in queue.drain():
                    self._finish(job, JobState.CANCELLED, SHUTDOWN_REASON.format(state="queued"))
            for job in self._active.values():
                job.cancel_reason = SHUTDOWN_REASON.format(state="running")
                job.token.cancel()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            for job in list(self._active.values()):
                log.error("job %s (%s) did not stop within %.0f s; marking it failed", job.id, job.op, timeout)
                self._finish(job, JobState.FAILED, SHUTDOWN_REASON.format(state="running") +
                             "; the op did not stop in time")

    # -- workers --------------------------------------------------------------------------------
    def _worker(self, resource: str) -> None:
        queue = self._queues[resource]
        while True:
            with self._cond:
                while not self._stopping and not len(queue):
                    self._cond.wait()
                if self._stopping:
                    return
                job = queue.pop()
                job.state, job.started, job.stage = JobState.RUNNING, time.time(), "starting"
                self._persist(job)
            self._send_progress(job, force=True)
            self._run(job)

    def _run(self, job: Job) -> None:
        log.info("job %s: %s started (client %r)", job.id, job.op, job.client)
        try:
            outputs = job.module.run(job.inputs, job.params, self._progress_fn(job), job.token)
            cache = outputs.pop("cache", None) if isinstance(outputs, dict) else None
            _check_outputs(job.op, outputs)
            self.store.save_outputs(job.id, outputs)
            if isinstance(cache, JobCache):
                self.store.save_cache(job.id, cache.arrays)
        except Cancelled:
            self._end(job, JobState.CANCELLED, job.cancel_reason)
        except OpError as exc:
            self._end(job, JobState.FAILED, str(exc) or f"{job.op} failed")
        except ProtocolError as exc:
            self._end(job, JobState.FAILED, f"{job.op} produced invalid output: {exc.message}")
        except Exception as exc:  # an op bug must fail the job, never the worker
            log.exception("job %s: %s crashed", job.id, job.op)
            self._end(job, JobState.FAILED, f"internal error in {job.op}: {type(exc).__name__}: {exc}")
        else:
            job.fraction, job.stage, job.message = 1.0, "done", ""
            self._end(job, JobState.DONE, "", outputs)

    def _end(self, job: Job, state: str, message: str, outputs: dict | None = None) -> None:
        with self._cond:
            if job.id in self._active:
                self._finish(job, state, message, outputs)

    def _finish(self, job: Job, state: str, message: str, outputs: dict | None = None) -> None:
        """Record the final state and emit the result/error event. Caller holds the lock."""
        job.state, job.finished = state, time.time()
        if state != JobState.DONE:
            job.message = message
            job.error = {"code": ErrorCode.CANCELLED if state == JobState.CANCELLED else ErrorCode.FAILED,
                         "message": message}
        self._active.pop(job.id, None)
        self._persist(job)
        log.info("job %s: %s %s%s", job.id, job.op, state, f" ({message})" if message else "")
        if state == JobState.DONE:
            self.emit(job, {"type": MsgType.RESULT, "job": job.id}, outputs)
        else:
            self.emit(job, {"type": MsgType.ERROR, "id": None, "job": job.id, **job.error}, None)
        job.inputs = {}

    def _persist(self, job: Job) -> None:
        """Save the job's state; a full or broken disk is logged, never allowed to kill a worker."""
        try:
            self.store.save_state(job.record())
        except OSError as exc:
            log.error("job %s: could not save its state (%s); clients still get events", job.id, exc)

    def _progress_fn(self, job: Job):
        def progress(fraction: float, stage: str, message: str = "") -> None:
            try:
                fraction = float(fraction)
            except (TypeError, ValueError):
                fraction = job.fraction
            fraction = min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else job.fraction
            stage_changed = stage != job.stage
            job.fraction, job.stage, job.message = fraction, str(stage)[:200], str(message)[:1000]
            self._send_progress(job, force=stage_changed)
        return progress

    def _send_progress(self, job: Job, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - job.last_sent >= PROGRESS_INTERVAL:
            job.last_sent = now
            self.emit(job, job.progress_header(), None)

    def _beat(self) -> None:
        while not self._stopping:
            time.sleep(HEARTBEAT_INTERVAL / 2)
            now = time.monotonic()
            for job in self.active():
                if job.state == JobState.RUNNING and now - job.last_sent >= HEARTBEAT_INTERVAL:
                    self._send_progress(job, force=True)


def _check_outputs(op: str, outputs) -> None:
    """An op must return a dict of valid, non-empty payloads; their ``info`` is made JSON-safe."""
    if not isinstance(outputs, dict) or not outputs:
        raise ProtocolError(ErrorCode.FAILED, f"{op} returned {type(outputs).__name__}, not a dict of payloads")
    for name, item in outputs.items():
        if not isinstance(item, (MeshPayload, ImagePayload)):
            raise ProtocolError(ErrorCode.FAILED, f"output {name!r} is {type(item).__name__}, not a payload")
        item.validate(name)
        item.info = json_safe(item.info)
        if isinstance(item, MeshPayload):
            item.part_names = [str(n) for n in item.part_names]
