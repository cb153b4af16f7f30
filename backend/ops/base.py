"""The contract every op module follows, and the small pieces ops share.

An op module in ``backend/ops/`` defines::

    NAME = "retopo"                     # the op name on the wire
    RESOURCE = "cpu"                    # "cpu" (CPU pool) or "model" (the single model worker)
    SUMMARY = "one line for --help and the UI"
    INPUTS = {"mesh": InputSpec("mesh", required=True)}
    def params_schema() -> list[ParamSpec]: ...      # may depend on the model registry
    def available() -> tuple[bool, str]: ...        # False + reason: not advertised in welcome
    def run(inputs, params, progress, cancel) -> dict[str, MeshPayload | ImagePayload]

``run`` is called identically by the server's job workers and by the local CLI. Cancel, progress
and OpError live on the ground floor (``backend.runtime``); they are re-exported here for ops.
"""
from __future__ import annotations

from dataclasses import dataclass

from backend.runtime import (  # noqa: F401  (re-exported: the ops' toolkit)
    Cancelled, CancelToken, JobCache, OpError, ProgressCallable, ProgressFn, no_progress, sub_progress,
)


@dataclass(frozen=True)
class InputSpec:
    """One named input of an op: kind 'mesh' or 'image'."""

    kind: str
    required: bool = True
    help: str = ""

    def to_json(self) -> dict:
        return {"kind": self.kind, "required": self.required, "help": self.help}


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
