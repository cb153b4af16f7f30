"""The contract every op module follows, and the small pieces ops share.

An op module in ``backend/ops/`` defines::

    NAME = "retopo"                     # the op name on the wire
    RESOURCE = "cpu"                    # "cpu" (CPU pool) or "model" (the single model worker)
    SUMMARY = "one line for --help and the UI"
    INPUTS = {"mesh": InputSpec("mesh", required=True)}
    def params_schema() -> list[ParamSpec]: ...      # may depend on the model registry
    def available() -> tuple[bool, str]: ...        # False + reason: not advertised in welcome
    def run(inputs, params, progress, cancel) -> dict[str, MeshPayload | ImagePayload]

``run`` is called identically by the server's job workers and by the local CLI.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Protocol


class Cancelled(Exception):
    """Raised inside an op when its cancel token fires."""


class OpError(Exception):
    """A failure the user can understand and act on (becomes error code 'failed')."""


@dataclass(frozen=True)
class InputSpec:
    """One named input of an op: kind 'mesh' or 'image'."""

    kind: str
    required: bool = True
    help: str = ""

    def to_json(self) -> dict:
        return {"kind": self.kind, "required": self.required, "help": self.help}


class ProgressFn(Protocol):
    def __call__(self, fraction: float, stage: str, message: str = "") -> None: ...


class CancelToken:
    """Thread-safe cancel flag. Ops call :meth:`check` between steps and inside loops."""

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


ProgressCallable = Callable[[float, str, str], None]


def input_mesh(inputs: dict, op: str):
    """The validated input mesh named 'mesh' of ``op``; a missing or broken mesh is an OpError."""
    from shared.payload import MeshPayload
    from shared.protocol import ProtocolError

    mesh = inputs.get("mesh")
    if not isinstance(mesh, MeshPayload):
        raise OpError(f"{op} needs an input mesh named 'mesh'")
    try:
        mesh.validate("mesh")
    except ProtocolError as exc:
        raise OpError(f"{exc.message}; fix the mesh and try again") from None
    return mesh
