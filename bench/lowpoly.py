"""Kiln's ``lowpoly`` retopology vs Blender's Decimate (collapse) + Tris to Quads (bpy 5.0.1).

    .venv/bin/python bench/lowpoly.py [--categories chair,barrel,...] [--corpus bunny:1500,...]

Inputs: procedural artist assets (backend/procedural) made dense (their SDF through marching
cubes at ``--resolution``, tens of thousands of triangles) with a budget of twice the artist
mesh's face count, and corpus meshes (tests/mesh_corpus.py) at fixed budgets. Blender gets the
same ceiling: its Decimate ratio is searched (up to 5 tries, secant steps) for the most faces at
or under the budget after Tris to Quads; its time is all tries together, as Kiln's op includes its
own search. Metrics from backend/geometry/metrics.py against the dense input, 20k samples.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import mesh_corpus  # noqa: E402
from blender_mesh import payload_from_bpy_mesh  # noqa: E402
from backend.geometry.metrics import retopo_report  # noqa: E402
from backend.ops import retopo  # noqa: E402
from backend.procedural.meshing import watertight_mesh  # noqa: E402
from backend.procedural.registry import generate  # noqa: E402
from backend.runtime import CancelToken, no_progress  # noqa: E402
from shared.payload import MeshPayload  # noqa: E402

CATEGORIES = "chair,table,barrel,crate,sword,house,bottle,mug,rock,lamp,vase,shield"
CORPUS = "bunny:1500,cow:1000,airplane:800,bracket:150"


def _blender_once(mesh: MeshPayload, ratio: float) -> MeshPayload:
    import bpy

    data = bpy.data.meshes.new("bench")
    tris = mesh.triangulated()
    data.from_pydata(mesh.positions.astype(np.float64).tolist(), [], tris.tolist())
    obj = bpy.data.objects.new("bench", data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    mod = obj.modifiers.new("decimate", "DECIMATE")
    mod.decimate_type = "COLLAPSE"
    mod.ratio = ratio
    bpy.ops.object.modifier_apply(modifier=mod.name)
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.mesh.select_all(action="SELECT")
    bpy.ops.mesh.tris_convert_to_quads()
    bpy.ops.object.mode_set(mode="OBJECT")
    out = obj.data
    result = payload_from_bpy_mesh(out)
    bpy.data.objects.remove(obj)
    bpy.data.meshes.remove(out)
    return result


def blender_lowpoly(mesh: MeshPayload, target: int) -> tuple[MeshPayload, float]:
    """The Decimate ratio with the most faces at or under ``target`` (or the fewest faces)."""
    started = time.perf_counter()
    tris = len(mesh.triangulated())
    ratio, best, lo, hi = min(1.9 * target / tris, 1.0), None, 0.0, None
    for _ in range(5):
        out = _blender_once(mesh, ratio)
        faces = out.num_faces
        if best is None or (faces <= target and (best.num_faces > target or faces > best.num_faces)) \
                or (faces > target and best.num_faces > target and faces < best.num_faces):
            best = out
        if faces <= target:
            if faces >= 0.97 * target:
                break
            lo = ratio
        else:
            hi = ratio
        ratio = ratio * target / faces
        if hi is not None:
            ratio = min(ratio, 0.5 * (lo + hi) if ratio >= hi else ratio)
        ratio = min(max(ratio, 1e-4), 1.0)
    return best, time.perf_counter() - started


def kiln_lowpoly(mesh: MeshPayload, target: int) -> tuple[MeshPayload, float]:
    started = time.perf_counter()
    out = retopo.run({"mesh": mesh}, {"target_faces": target, "mode": "lowpoly"}, no_progress, CancelToken())["mesh"]
    return out, time.perf_counter() - started


def inputs(categories: str, corpus: str, resolution: int):
    for name in filter(None, categories.split(",")):
        asset = generate(name, 0)
        v, f, _ = watertight_mesh(asset, resolution)
        yield name, MeshPayload.from_triangles(v, f), 2 * asset.artist_mesh().num_faces
    for item in filter(None, corpus.split(",")):
        name, target = item.split(":")
        yield name, mesh_corpus.load(name), int(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", default=CATEGORIES)
    parser.add_argument("--corpus", default=CORPUS)
    parser.add_argument("--resolution", type=int, default=96)
    parser.add_argument("--no-blender", action="store_true", help="Kiln only (Blender's columns repeat Kiln's)")
    parser.add_argument("--gallery", help="also write a PNG: input, Blender, Kiln per row")
    args = parser.parse_args()
    if not args.no_blender:
        import bpy  # noqa: F401 - fail early when bpy is missing
    head = (f"{'mesh':10s} {'input':>6s} {'budget':>6s} | {'B quad':>6s} {'K quad':>6s} | {'B f/b':>5s} {'K f/b':>5s} | "
            f"{'B cham%':>7s} {'K cham%':>7s} | {'B haus%':>7s} {'K haus%':>7s} | {'B s':>5s} {'K s':>5s}")
    print(f"{head}\n{'-' * len(head)}", flush=True)
    rows, pictures = [], []
    for name, mesh, target in inputs(args.categories, args.corpus, args.resolution):
        k_out, k_sec = kiln_lowpoly(mesh, target)
        b_out, b_sec = (k_out, k_sec) if args.no_blender else blender_lowpoly(mesh, target)
        b, k = (retopo_report(o, mesh, target, samples=20_000) for o in (b_out, k_out))
        rows.append((b, k, b_sec, k_sec, target))
        if args.gallery:
            pictures.append((name, mesh, b_out, b, k_out, k))
        print(f"{name:10s} {mesh.num_faces:6d} {target:6d} | {b['quad_ratio']:6.2f} {k['quad_ratio']:6.2f} | "
              f"{b['faces'] / target:5.2f} {k['faces'] / target:5.2f} | {100 * b['chamfer']:7.3f} {100 * k['chamfer']:7.3f} | "
              f"{100 * b['hausdorff']:7.2f} {100 * k['hausdorff']:7.2f} | {b_sec:5.1f} {k_sec:5.1f}", flush=True)
    print("\nsummary (means over rows)")
    for i, who in enumerate(("blender", "kiln")):
        col = [r[i] for r in rows]
        over = sum(r[i]["faces"] > r[4] for r in rows)
        print(f"  {who:8s} quad ratio {np.mean([c['quad_ratio'] for c in col]):.2f} "
              f"(>= 0.80 on {sum(c['quad_ratio'] >= 0.8 for c in col)}/{len(col)}); over budget {over}/{len(col)}; "
              f"Chamfer {100 * np.mean([c['chamfer'] for c in col]):.3f}%; "
              f"Hausdorff {100 * np.mean([c['hausdorff'] for c in col]):.2f}%; time {sum(r[2 + i] for r in rows):.1f} s")
    if args.gallery:
        write_gallery(args.gallery, pictures)
    return 0


def write_gallery(path: str, pictures: list) -> None:
    """One row per input: the dense input, Blender's result, Kiln's (polygon edges drawn)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from backend.procedural.gallery import rasterize

    fig, axes = plt.subplots(len(pictures), 3, figsize=(7.5, 2.6 * len(pictures)), squeeze=False)
    for row, (name, mesh, b_out, b, k_out, k) in zip(axes, pictures):
        cells = [(mesh, f"{name}: input, {mesh.num_faces} faces"),
                 (b_out, f"Blender {b['faces']} faces, quads {b['quad_ratio']:.2f}"),
                 (k_out, f"Kiln {k['faces']} faces, quads {k['quad_ratio']:.2f}")]
        for ax, (m, title) in zip(row, cells):
            ax.imshow(rasterize(m, 320), interpolation="lanczos")
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
