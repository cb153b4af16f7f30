"""Blender add-on benchmarks, in real bpy (Blender 5.0.1 as a module), baselines in the same run.

(a) A 1M-triangle result -> scene object: Kiln's scene.py vs Blender's own glTF importer reading
    the same mesh as a GLB (written by shared/glb.py).
(b) The longest main-thread stall Kiln causes during a ~10 s job: Blender's event loop is replayed
    by a loop that runs Kiln's registered timer callback whenever it asks to run, next to a 5 ms
    heartbeat timer that records how late it fires. Baseline: a blocking call, which would freeze
    Blender for the whole job.

    .venv/bin/python bench/addon.py [--triangles 1000000] [--job-seconds 10]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="kiln-bench-blender-"))
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

import build  # noqa: E402
from addon_helpers.backend import Backend  # noqa: E402
from shared.glb import write_glb  # noqa: E402
from shared.payload import MeshPayload  # noqa: E402

MODULE = "bl_ext.user_default.kiln"


def install_kiln():
    """Build the extension and install it the way a user would; returns the add-on package."""
    out = Path(tempfile.mkdtemp(prefix="kiln-bench-dist-"))
    zip_path = build.build([build.current_platform()], out, ROOT / "build" / "wheels", blender=None)[0]
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    return sys.modules[MODULE]


def grid_mesh(triangles: int) -> MeshPayload:
    """A wavy grid with about ``triangles`` triangles (as a real scan or generated surface would be)."""
    side = int(np.sqrt(triangles / 2)) + 1
    u, v = np.meshgrid(np.linspace(0, 1, side), np.linspace(0, 1, side), indexing="ij")
    z = 0.05 * np.sin(12 * u) * np.cos(9 * v)
    positions = np.stack([u, v, z], -1).reshape(-1, 3).astype(np.float32)
    ids = np.arange(side * side).reshape(side, side)
    a, b, c, d = ids[:-1, :-1], ids[1:, :-1], ids[1:, 1:], ids[:-1, 1:]
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return MeshPayload.from_triangles(positions, tris)


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        bpy.ops.wm.read_homefile(use_empty=True)
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_import(kiln, triangles: int, repeats: int) -> None:
    mesh = grid_mesh(triangles)
    with tempfile.TemporaryDirectory() as tmp:
        glb = Path(tmp) / "mesh.glb"
        glb.write_bytes(write_glb(mesh))

        def ours():
            objs = kiln.scene.objects_from_payload(mesh, "mesh", bpy.context.scene.collection)
            assert len(objs[0].data.polygons) == mesh.num_faces

        def gltf():
            bpy.ops.import_scene.gltf(filepath=str(glb))
            assert sum(len(o.data.polygons) for o in bpy.data.objects if o.type == "MESH") == mesh.num_faces

        t_ours, t_gltf = best_of(repeats, ours), best_of(repeats, gltf)
    print(f"(a) {mesh.num_faces:,} triangles / {mesh.num_vertices:,} vertices -> scene object, best of {repeats}:")
    print(f"    Kiln scene.py          {t_ours * 1000:8.1f} ms")
    print(f"    Blender glTF importer  {t_gltf * 1000:8.1f} ms")
    print(f"    ratio glTF / Kiln      {t_gltf / t_ours:8.1f}x")


def bench_stall(kiln, job_seconds: float, segments: int) -> None:
    server = Backend(Path(tempfile.mkdtemp(prefix="kiln-bench-store-")), extra_ops=("timed_op",)).start()
    try:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        import addon_utils
        addon_utils.enable(MODULE, default_set=True)
        kiln = sys.modules[MODULE]
        prefs = bpy.context.preferences.addons[MODULE].preferences
        prefs.address = server.address
        bpy.ops.kiln.connect(wait=True)
        sess = kiln.session.get()
        record = sess.submit("generate", {"prompt": "bench", "duration": job_seconds, "segments": segments},
                             {}, kiln.results.context_for("generate", "bench", bpy.context), "bench")
        heartbeat_s, lateness, tick_costs, apply_costs = 0.005, [], [], []
        next_beat = next_tick = time.perf_counter()
        start = time.perf_counter()
        while not record.final and time.perf_counter() - start < job_seconds + 60:
            now = time.perf_counter()
            if now >= next_tick:
                began = time.perf_counter()
                interval = kiln.session.tick()   # exactly what bpy.app.timers runs in the UI
                cost = time.perf_counter() - began
                (apply_costs if record.final else tick_costs).append(cost)
                next_tick = time.perf_counter() + interval
            now = time.perf_counter()
            if now >= next_beat:
                lateness.append(now - next_beat)
                next_beat = now + heartbeat_s
            time.sleep(max(0.0, min(next_beat, next_tick) - time.perf_counter()))
        total = time.perf_counter() - start
        assert record.state == "done", (record.state, record.message)
        faces = len(bpy.data.objects["bench"].data.polygons)
    finally:
        server.stop()
    late = np.array(lateness) * 1000
    costs = np.array(tick_costs) * 1000
    print(f"(b) a {job_seconds:.0f} s job ({total:.1f} s wall, result {faces:,} faces) with the UI loop running:")
    print(f"    Kiln timer calls while the job ran: {len(costs)}; median {np.median(costs):.2f} ms, "
          f"max {costs.max():.1f} ms")
    print(f"    the tick that builds the result and pushes undo: {apply_costs[0] * 1000:.1f} ms")
    print(f"    heartbeat lateness     p50 {np.median(late):.2f} ms, p99 {np.percentile(late, 99):.2f} ms, "
          f"max {late.max():.1f} ms")
    print(f"    longest stall vs a blocking wait: {late.max():.1f} ms vs {total * 1000:.0f} ms "
          f"= {total * 1000 / late.max():.0f}x shorter")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triangles", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--job-seconds", type=float, default=10.0)
    parser.add_argument("--segments", type=int, default=200, help="result sphere resolution for (b)")
    args = parser.parse_args()
    kiln = install_kiln()
    bench_import(kiln, args.triangles, args.repeats)
    bench_stall(kiln, args.job_seconds, args.segments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
