"""The job list the Jobs panel shows: pure Python, owned by the main thread."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

FINAL_STATES = ("done", "failed", "cancelled")


@dataclass
class JobContext:
    """Where and how to apply a job's result, captured when it was submitted."""

    op: str
    name: str
    scene: str = ""
    view_layer: str = ""
    collection: str = ""
    matrix: tuple = ()           # 16 floats, row-major world matrix of the result's top object
    source: str = ""             # the object the job was made from (retopo, parts, texture)
    keep_original: bool = True
    parts_output: str = "OBJECTS"  # parts: "OBJECTS" (one per part under a parent) or "GROUPS" (vertex groups)
    replaces: str = ""           # parts re-split: the earlier result's top object, removed once this one lands


@dataclass
class JobRecord:
    """One job as the user sees it. ``key`` is local; ``job`` is the server's id once accepted."""

    key: str
    op: str
    label: str = ""
    job: str = ""
    state: str = "submitting"
    fraction: float = 0.0
    stage: str = ""
    message: str = ""
    created: float = field(default_factory=time.time)
    objects: list[str] = field(default_factory=list)
    summary: str = ""            # what the backend says it made, e.g. "chair, procedural, 92%"
    warning: str = ""            # what the user must know about it, e.g. "no category is close to ..."
    context: JobContext | None = None
    applied: bool = False
    waited: bool = False         # an operator is blocking on it and reports the outcome

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def active(self) -> bool:
        return not self.final

    @property
    def display_id(self) -> str:
        return self.job or self.key


class JobTable:
    """Jobs by local key, newest first, findable by key or by server job id."""

    def __init__(self) -> None:
        self._records: dict[str, JobRecord] = {}

    def add(self, record: JobRecord) -> JobRecord:
        self._records[record.key] = record
        return record

    def find(self, ident: str) -> JobRecord | None:
        """The record whose local key or server job id is ``ident``."""
        if ident in self._records:
            return self._records[ident]
        return next((r for r in self._records.values() if r.job == ident), None)

    def remove(self, ident: str) -> bool:
        record = self.find(ident)
        if record is None:
            return False
        del self._records[record.key]
        return True

    def __iter__(self):
        return iter(sorted(self._records.values(), key=lambda r: r.created, reverse=True))

    def __len__(self) -> int:
        return len(self._records)

    def active(self) -> list[JobRecord]:
        return [r for r in self._records.values() if r.active]

    def merge_server_list(self, entries: list[dict]) -> None:
        """Add jobs the server knows but this session does not (e.g. finished while Blender was closed)."""
        for entry in entries:
            job = str(entry.get("job", ""))
            if not job:
                continue
            record = self.find(job)
            if record is None:
                record = self.add(JobRecord(key=job, job=job, op=str(entry.get("op", "?")),
                                            created=float(entry.get("created") or time.time())))
                params = entry.get("params") if isinstance(entry.get("params"), dict) else {}
                record.label = str(params.get("prompt") or "") or "from the server"
            if not record.final or record.state == "submitting":
                record.state = str(entry.get("state", record.state))
                record.fraction = float(entry.get("fraction") or record.fraction)
                record.stage = str(entry.get("stage") or record.stage)
