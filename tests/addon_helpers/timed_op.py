"""A 'generate' op with a controllable duration, loaded into a real backend with --extra-op-module.

It stands in for the real generate op only where a test needs exact timing (cancel mid-job, the
main-thread stall benchmark); the real ops are exercised by the other add-on tests. A prompt that
starts with "slow" runs for SLOW_S seconds unless cancelled; otherwise ``duration`` applies. A
prompt that starts with "routed" gets the real generate op's ``summary`` and ``warning`` info
(the real op writing them is tested in tests/test_addon_real_ops.py).
"""
from __future__ import annotations

import time

import numpy as np

from backend.ops.base import InputSpec
from shared.payload import Material, MeshPayload
from shared.protocol import ParamSpec

NAME = "generate"
RESOURCE = "cpu"
SLOW_S = 60.0
SUMMARY = "test op: a quad sphere after `duration` seconds of progress"
INPUTS = {"image": InputSpec("image", required=False)}


def params_schema() -> list[ParamSpec]:
    return [ParamSpec("prompt", "str", ""), ParamSpec("seed", "int", 0, minimum=0),
            ParamSpec("duration", "float", 1.0, minimum=0.0, maximum=120.0),
            ParamSpec("segments", "int", 16, minimum=3, maximum=2000)]


def available() -> tuple[bool, str]:
    return True, ""


def quad_sphere(segments: int) -> MeshPayload:
    """A UV sphere of quads (and triangle fans at the poles), radius 1."""
    rings, sides = segments, 2 * segments
    theta = np.linspace(0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring_pts = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    positions = np.concatenate([ring_pts, [[0, 0, 1], [0, 0, -1]]]).astype(np.float32)
    top, bottom = len(ring_pts), len(ring_pts) + 1
    idx = np.arange(len(ring_pts)).reshape(rings - 1, sides)
    nxt = np.roll(idx, -1, axis=1)
    quads = np.stack([idx[:-1], idx[1:], nxt[1:], nxt[:-1]], -1).reshape(-1, 4)
    cap_top = np.stack([np.full(sides, top), idx[0], nxt[0]], -1)
    cap_bottom = np.stack([np.full(sides, bottom), nxt[-1], idx[-1]], -1)
    sizes = np.concatenate([np.full(len(quads), 4), np.full(2 * sides, 3)]).astype(np.int32)
    indices = np.concatenate([quads.ravel(), cap_top.ravel(), cap_bottom.ravel()]).astype(np.int32)
    return MeshPayload(positions, sizes, indices, materials=[Material("clay", (0.7, 0.4, 0.3, 1.0), 0.6, 0.0)])


def run(inputs, params, progress, cancel):
    start = time.monotonic()
    duration = SLOW_S if params["prompt"].startswith("slow") else params["duration"]
    while (elapsed := time.monotonic() - start) < duration:
        cancel.check()
        progress(elapsed / max(duration, 1e-6), "sampling", f"{elapsed:.1f} s")
        time.sleep(min(0.05, duration))
    mesh = quad_sphere(params["segments"])
    if params["prompt"].startswith("routed"):
        mesh.info = {"summary": "sword, procedural, 3%",
                     "warning": f"no category is close to '{params['prompt']}'; nearest: sword (3%)."}
    return {"mesh": mesh}
