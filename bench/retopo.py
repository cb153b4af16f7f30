"""Kiln's quad retopology vs Blender's QuadriFlow (bpy 5.0.1), same meshes, same target.

    .venv/bin/python bench/retopo.py [--faces 2000] [--meshes bunny,cow,...] [--json out.json] [--kiln-only]

For every corpus mesh (tests/mesh_corpus.py: real, primitive and broken meshes), Blender's
``bpy.ops.object.quadriflow_remesh`` runs on an object built from the mesh, and Kiln's retopo op
runs in quad mode on the same mesh, alternately, in this one process. Both results are measured
with backend/geometry/metrics.py against the input. Times are wall-clock of the remesh call
itself (Blender: the operator; Kiln: the whole op, repair included); the ratio is Kiln / Blender.
``fixed`` is the input's Euler characteristic after the op's repair (c: closed, o: open), what a
remesh can keep; ``bnd%`` is how far the open boundaries moved from the repaired input's
(``metrics.boundary_deviation``; UV seams welded by the repair are no boundary); ``bnd>q%`` the
same but holes of the input shorter around than one quad at the target count
(``quad_gaps.hole_floor``) need not be kept open (every rim of the result is still measured).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import mesh_corpus  # noqa: E402
from blender_mesh import payload_from_bpy_mesh  # noqa: E402
from backend.geometry import repair  # noqa: E402
from backend.geometry.metrics import boundary_deviation, retopo_report, topology_stats  # noqa: E402
from backend.geometry.polymesh import boundary_edge_count, euler_characteristic  # noqa: E402
from backend.geometry.quad_gaps import hole_floor  # noqa: E402
from backend.geometry.repair import triangle_areas  # noqa: E402
from backend.ops import retopo  # noqa: E402
from backend.runtime import CancelToken
from backend.runtime import no_progress  # noqa: E402
from shared.payload import MeshPayload  # noqa: E402


def blender_quadriflow(mesh: MeshPayload, faces: int) -> tuple[MeshPayload | None, float, str]:
    """(result or None, seconds, status) of Blender's QuadriFlow on ``mesh``."""
    import bpy

    data = bpy.data.meshes.new("bench")
    offsets = mesh.face_offsets()
    data.vertices.add(mesh.num_vertices)
    data.vertices.foreach_set("co", mesh.positions.astype(np.float32).ravel())
    data.loops.add(len(mesh.face_indices))
    data.loops.foreach_set("vertex_index", mesh.face_indices.astype(np.int32))
    data.polygons.add(mesh.num_faces)
    data.polygons.foreach_set("loop_start", offsets[:-1].astype(np.int32))
    data.update(calc_edges=True)
    obj = bpy.data.objects.new("bench", data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    started = time.perf_counter()
    try:
        status = bpy.ops.object.quadriflow_remesh(mode="FACES", target_faces=faces, seed=0)
    except RuntimeError as exc:
        status = {f"error: {exc}".splitlines()[0][:80]}
    seconds = time.perf_counter() - started
    result = None
    if status == {"FINISHED"}:
        result = payload_from_bpy_mesh(obj.data)
    bpy.data.objects.remove(obj)
    return result, seconds, "ok" if result is not None else ",".join(sorted(status))


def kiln_quad(mesh: MeshPayload, faces: int) -> tuple[MeshPayload | None, float, str]:
    """(result or None, seconds, status) of Kiln's retopo op in quad mode."""
    started = time.perf_counter()
    try:
        out = retopo.run({"mesh": mesh}, {"target_faces": faces, "mode": "quad"}, no_progress, CancelToken())["mesh"]
    except Exception as exc:  # noqa: BLE001 - a failure is a row
        return None, time.perf_counter() - started, f"error: {exc}"[:80]
    seconds = time.perf_counter() - started
    used = [line for line in out.info["report"] if "fell back" in line or "kept the closest" in line]
    return out, seconds, "ok" if not used else "fallback"


def measure(result: MeshPayload | None, mesh: MeshPayload, faces: int, repaired: MeshPayload) -> dict:
    if result is None or result.num_faces == 0:
        return {}
    out = retopo_report(result, mesh, faces, samples=30_000)
    out["boundary"] = boundary_deviation(result, repaired)
    area = float(triangle_areas(repaired.positions.astype(np.float64), repaired.triangulated()).sum())
    out["boundary_kept"] = boundary_deviation(result, repaired, hole_floor(area, faces))
    return out


def repaired(mesh: MeshPayload) -> tuple[MeshPayload, int, bool]:
    """The input after the op's repair (welded within a tolerance, pinched vertices split: UV
    seams are no boundary), its Euler characteristic and whether it is closed: what a remesh
    can keep."""
    cleaned = repair.clean(*repair.triangulate(mesh.positions, mesh.face_sizes, mesh.face_indices), [])
    return (MeshPayload.from_triangles(cleaned.vertices, cleaned.triangles), euler_characteristic(cleaned.triangles),
            not boundary_edge_count(cleaned.triangles))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--meshes", default=",".join(mesh_corpus.names("default")))
    parser.add_argument("--json", help="write all rows here")
    parser.add_argument("--kiln-only", action="store_true", help="skip Blender's QuadriFlow (quick checks of Kiln rows)")
    args = parser.parse_args()
    import bpy  # noqa: F401 - fail early when bpy is missing

    retopo.run({"mesh": mesh_corpus.load("cube")}, {"target_faces": 100}, no_progress, CancelToken())  # warm imports
    rows = []
    head = (f"{'mesh':16s} {'euler':>5s} | {'B faces':>7s} {'K faces':>7s} | {'B haus%':>7s} {'K haus%':>7s} | "
            f"{'B sing':>6s} {'K sing':>6s} | {'B eul':>5s} {'K eul':>5s} {'fixed':>5s} | {'B bnd%':>6s} {'K bnd%':>6s} "
            f"{'B bnd>q%':>8s} {'K bnd>q%':>8s} | "
            f"{'B s':>6s} {'K s':>6s} {'K/B':>5s} | status")
    print(f"target {args.faces} faces\n{head}\n{'-' * len(head)}", flush=True)
    for name in args.meshes.split(","):
        mesh = mesh_corpus.load(name)
        b_out, b_sec, b_status = (None, 0.0, "skipped") if args.kiln_only else blender_quadriflow(mesh, args.faces)
        k_out, k_sec, k_status = kiln_quad(mesh, args.faces)
        fixed, fixed_euler, closed = repaired(mesh)
        b, k = measure(b_out, mesh, args.faces, fixed), measure(k_out, mesh, args.faces, fixed)
        row = {"mesh": name, "euler_in": topology_stats(mesh).euler, "blender": b, "kiln": k,
               "euler_repaired": fixed_euler, "closed": closed,
               "blender_seconds": b_sec, "kiln_seconds": k_sec, "blender_status": b_status, "kiln_status": k_status}
        rows.append(row)

        def cell(d, key, fmt):
            return format(d[key] * (100 if key in ("hausdorff", "boundary", "boundary_kept") else 1), fmt) if d else "-"

        ratio = k_sec / b_sec if b_out is not None else float("nan")
        print(f"{name:16s} {row['euler_in']:5d} | {cell(b, 'faces', '7d')} {cell(k, 'faces', '7d')} | "
              f"{cell(b, 'hausdorff', '7.2f')} {cell(k, 'hausdorff', '7.2f')} | "
              f"{cell(b, 'singular_vertices', '6d')} {cell(k, 'singular_vertices', '6d')} | "
              f"{cell(b, 'euler', '5d')} {cell(k, 'euler', '5d')} {fixed_euler:5d}{'c' if closed else 'o'} | "
              f"{cell(b, 'boundary', '6.2f')} {cell(k, 'boundary', '6.2f')} "
              f"{cell(b, 'boundary_kept', '8.2f')} {cell(k, 'boundary_kept', '8.2f')} | {b_sec:6.2f} {k_sec:6.2f} {ratio:5.2f} | "
              f"B {b_status}, K {k_status}", flush=True)
    both = [r for r in rows if r["blender"] and r["kiln"]]
    print("\nsummary")
    for who in ("kiln",) if args.kiln_only else ("blender", "kiln"):
        done = [r for r in rows if r[who]]
        fails = len(rows) - len(done)
        worst = max((r[who]["hausdorff"] for r in done), default=float("nan"))
        over = sum(r[who]["hausdorff"] > 0.02 for r in done)
        within = sum(r[who]["face_count_error"] <= 0.10 for r in done)
        kept = sum(r[who]["euler"] == r["euler_in"] for r in done)
        closed = [r for r in done if r["closed"]]
        kept_closed = sum(r[who]["euler"] == r["euler_repaired"] for r in closed)
        open_ = [r for r in done if not r["closed"]]
        moved = max((r[who]["boundary"] for r in open_), default=float("nan"))
        kept_rims = max((r[who]["boundary_kept"] for r in open_), default=float("nan"))
        print(f"  {who:8s} failures {fails}/{len(rows)}; worst Hausdorff {100 * worst:.2f}% "
              f"({over} over 2%); face count within 10%: {within}/{len(done)}; Euler kept {kept}/{len(done)}; "
              f"closed inputs (after repair) Euler kept {kept_closed}/{len(closed)}; open inputs: boundary moved "
              f"at most {100 * moved:.2f}% of the diagonal ({100 * kept_rims:.2f}% with holes under a quad "
              f"free to close)")
    if both:
        b_sing = sum(r["blender"]["singular_vertices"] for r in both)
        k_sing = sum(r["kiln"]["singular_vertices"] for r in both)
        fewer = sum(r["kiln"]["singular_vertices"] < r["blender"]["singular_vertices"] for r in both)
        ratios = [r["kiln_seconds"] / r["blender_seconds"] for r in both]
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        print(f"  on the {len(both)} meshes both finished: singular vertices Blender {b_sing}, Kiln {k_sing} "
              f"(Kiln fewer on {fewer}); time Kiln/Blender geometric mean {geo:.2f}x, "
              f"total {sum(r['kiln_seconds'] for r in both):.1f} s vs {sum(r['blender_seconds'] for r in both):.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
