"""The job store: one directory per job holding its request, its state and its outputs.

Layout of ``<store>/jobs/<job id>/``:
  request.json   op, params, client name, input summary (inputs themselves are not kept)
  state.json     the job record clients see via ``status`` (written atomically on every change)
  outputs.json + outputs.bin   the outputs exactly as they travel (wire layout, polygons kept)
  <name>.glb     each mesh output as GLB, for people and other tools

Outputs are stored in the wire layout rather than GLB so ``fetch`` returns exactly what the op
produced (GLB triangulates). A store opened after a crash turns unfinished jobs into failed ones.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np

from backend.atomic_file import atomic_write
from shared.glb import write_glb
from shared.payload import MeshPayload, Payload, pack_payloads, unpack_payloads
from shared.protocol import ALLOWED_DTYPES, JobState

log = logging.getLogger(__name__)

JOB_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{8}$")
INTERRUPTED = "the backend stopped while this job was {state} (crash or kill); submit it again"


def new_job_id() -> str:
    """A sortable, unguessable job id: UTC time + 32 random bits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(4).hex()


class JobStore:
    """Reads and writes job directories under ``root/jobs``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.jobs_dir = self.root / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)

    def job_dir(self, job: str) -> Path:
        """The directory of ``job``; KeyError for ids that are not well-formed (no path tricks)."""
        if not isinstance(job, str) or not JOB_ID.match(job):
            raise KeyError(job)
        return self.jobs_dir / job

    def exists(self, job: str) -> bool:
        try:
            return (self.job_dir(job) / "state.json").is_file()
        except KeyError:
            return False

    def create(self, record: dict, request: dict) -> None:
        """Persist a new job's request and first state."""
        directory = self.job_dir(record["job"])
        directory.mkdir(parents=True, exist_ok=False)
        atomic_write(directory / "request.json", json.dumps(request, indent=1).encode())
        self.save_state(record)

    def save_state(self, record: dict) -> None:
        atomic_write(self.job_dir(record["job"]) / "state.json", json.dumps(record, indent=1).encode())

    def load_state(self, job: str) -> dict:
        """The stored job record; KeyError if there is no such job."""
        try:
            return json.loads((self.job_dir(job) / "state.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            raise KeyError(job) from None

    def save_outputs(self, job: str, outputs: dict[str, Payload]) -> None:
        """Write outputs losslessly (wire layout) and each mesh as a GLB beside them."""
        directory = self.job_dir(job)
        described, buffers = pack_payloads(outputs)
        table, blobs, offset = [], [], 0
        for name, array in buffers:
            data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            table.append({"name": name, "dtype": array.dtype.name, "shape": list(array.shape),
                          "offset": offset, "size": len(data)})
            blobs.append(data)
            offset += len(data)
        atomic_write(directory / "outputs.bin", b"".join(blobs))
        atomic_write(directory / "outputs.json", json.dumps({"payloads": described, "buffers": table}).encode())
        for name, item in outputs.items():
            if isinstance(item, MeshPayload) and item.num_faces:
                atomic_write(directory / f"{name}.glb", write_glb(item))

    def save_cache(self, job: str, arrays: dict[str, np.ndarray]) -> None:
        """Keep an op's private arrays (see ``backend.runtime.JobCache``) as ``cache.npz``."""
        import io

        buffer = io.BytesIO()
        np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
        atomic_write(self.job_dir(job) / "cache.npz", buffer.getvalue())

    def load_cache(self, job: str) -> dict[str, np.ndarray]:
        """The arrays saved by :meth:`save_cache` (no pickle); KeyError when the job kept none."""
        path = self.job_dir(job) / "cache.npz"
        if not path.is_file():
            raise KeyError(job)
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def load_outputs(self, job: str) -> dict[str, Payload]:
        """The outputs of a finished job, validated as if they came off the wire."""
        directory = self.job_dir(job)
        description = json.loads((directory / "outputs.json").read_text())
        blob = (directory / "outputs.bin").read_bytes()
        arrays = {}
        for entry in description["buffers"]:
            dtype = np.dtype(ALLOWED_DTYPES[entry["dtype"]]).newbyteorder("<")
            chunk = blob[entry["offset"]:entry["offset"] + entry["size"]]
            arrays[entry["name"]] = np.frombuffer(chunk, dtype=dtype).reshape(entry["shape"]).astype(
                dtype.newbyteorder("="))
        return unpack_payloads(description["payloads"], arrays)

    def list_states(self, client: str | None = None, limit: int = 50) -> list[dict]:
        """Most recent job records first, optionally only those submitted under ``client``."""
        found = []
        for directory in sorted(self.jobs_dir.iterdir(), reverse=True):
            try:
                record = self.load_state(directory.name)
            except KeyError:
                continue
            if client is None or record.get("client") == client:
                found.append(record)
                if len(found) >= limit:
                    break
        return found

    def recover(self) -> list[str]:
        """Mark jobs left queued/running by a previous process as failed (with the reason)."""
        failed = []
        for directory in self.jobs_dir.iterdir():
            try:
                record = self.load_state(directory.name)
            except KeyError:
                continue
            if record.get("state") not in JobState.FINAL:
                reason = INTERRUPTED.format(state=record.get("state"))
                record.update(state=JobState.FAILED, finished=time.time(), stage="interrupted", message=reason,
                              error={"code": "failed", "message": reason})
                self.save_state(record)
                failed.append(record["job"])
        if failed:
            log.warning("marked %d interrupted job(s) failed: %s", len(failed), ", ".join(failed))
        return failed

    def prune(self, max_age_s: float) -> list[str]:
        """Delete finished jobs older than ``max_age_s`` seconds (live jobs are never touched)."""
        cutoff, removed = time.time() - max_age_s, []
        for directory in self.jobs_dir.iterdir():
            try:
                record = self.load_state(directory.name)
            except KeyError:
                continue
            if record.get("state") in JobState.FINAL and (record.get("finished") or 0) < cutoff:
                shutil.rmtree(directory, ignore_errors=True)
                removed.append(record["job"])
        if removed:
            log.info("removed %d finished job(s) older than %.1f days", len(removed), max_age_s / 86400)
        return removed
