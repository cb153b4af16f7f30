"""The ground floor: cancel, progress and the user-facing op error.

Every layer (server, jobs, ops, models, procedural, geometry) may import this module; it imports
nothing from the backend. Long loops take a :class:`CancelToken` and a :class:`ProgressFn` and
call ``cancel.check()`` and ``progress(...)`` inside, so a job can be stopped and followed.
"""
from __future__ import annotations

import threading
from typing import Callable, Protocol


class Cancelled(Exception):
    """Raised inside a long loop when its cancel token fires."""


class OpError(Exception):
    """A failure the user can understand and act on (becomes error code 'failed')."""


class JobCache:
    """Arrays an op keeps on the server for a later job of the same op (``from_job``), never sent
    to the client: e.g. the parts op's point features, so a re-split skips the network. An op
    returns it as the output named ``cache``; the job store saves it beside the outputs."""

    def __init__(self, arrays: dict):
        self.arrays = dict(arrays)


class ProgressFn(Protocol):
    def __call__(self, fraction: float, stage: str, message: str = "") -> None: ...


ProgressCallable = Callable[[float, str, str], None]


class CancelToken:
    """Thread-safe cancel flag. Loops call :meth:`check` between steps and inside iterations."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancel was requested."""
        if self._event.is_set():
            raise Cancelled("cancelled by request")


def sub_progress(progress: ProgressFn, start: float, end: float) -> ProgressFn:
    """Map a nested step's 0..1 progress into ``[start, end]`` of the parent's."""
    def report(fraction: float, stage: str, message: str = "") -> None:
        progress(start + (end - start) * min(max(fraction, 0.0), 1.0), stage, message)
    return report


def no_progress(fraction: float, stage: str, message: str = "") -> None:
    """A progress sink that ignores reports (for library callers that don't care)."""
