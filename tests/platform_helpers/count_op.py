"""Test-only op (loaded only via `serve --extra-op-module`): counts, step by step, for real.

It sums 1..n in steps of ``step_ms`` each, reporting progress and checking its cancel token every
step, so tests get deterministic progress, cancel and failure behaviour. With ``mesh`` input it
returns that mesh scaled by ``scale``; ``fail_at`` raises an OpError; ``crash`` raises a bug;
``bad_output`` returns an invalid mesh (NaN coordinates) that the server must refuse;
``odd_info`` puts NaN, numpy values and a path into the result's info (which must still travel).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from backend.runtime import OpError
from backend.ops.base import InputSpec
from shared.payload import MeshPayload
from shared.protocol import ParamSpec

NAME = "count"
RESOURCE = "cpu"
SUMMARY = "count to n slowly (test op)"
INPUTS = {"mesh": InputSpec("mesh", required=False, help="mesh to scale")}


def params_schema():
    return [ParamSpec("n", "int", 5, minimum=0, maximum=100000),
            ParamSpec("step_ms", "int", 20, minimum=0, maximum=5000),
            ParamSpec("scale", "float", 2.0),
            ParamSpec("fail_at", "int", -1),
            ParamSpec("crash", "bool", False),
            ParamSpec("bad_output", "bool", False, help="return a mesh with NaN coordinates"),
            ParamSpec("odd_info", "bool", False, help="put NaN and numpy values into the result's info"),
            ParamSpec("quiet", "bool", False, help="report progress only at the start")]


def available():
    return True, ""


def run(inputs, params, progress, cancel):
    total = 0
    for i in range(1, params["n"] + 1):
        cancel.check()
        if i == params["fail_at"]:
            raise OpError(f"failed at step {i} as asked")
        if params["crash"]:
            raise ZeroDivisionError("a bug in the op")
        time.sleep(params["step_ms"] / 1000)
        total += i
        if not params["quiet"] or i == 1:
            progress(i / max(params["n"], 1), "counting", f"{i}/{params['n']}")
    cancel.check()
    mesh = inputs.get("mesh")
    if mesh is None:
        mesh = MeshPayload.from_triangles([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])
    result = MeshPayload(positions=(mesh.positions * params["scale"]).astype(np.float32),
                         face_sizes=mesh.face_sizes.copy(), face_indices=mesh.face_indices.copy(),
                         corner_uvs=mesh.corner_uvs, part_ids=mesh.part_ids, part_names=list(mesh.part_names),
                         info={"total": total})
    if params["bad_output"]:
        result.positions[0] = np.nan
    if params["odd_info"]:
        result.info.update(nan=float("nan"), scale=np.float32(params["scale"]), counts=np.arange(3), path=Path("/x"))
    return {"mesh": result}
