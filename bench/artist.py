"""Artist retopology vs lowpoly vs Blender's Decimate (collapse) + Tris to Quads, same inputs, same run.

    .venv/bin/python bench/artist.py [--count 12] [--games] [--json out.json] [--render out.png]

Inputs: held-out artist meshes (the held-out split of the 0 A.D. / SuperTuxKart meshes with
``--games``, else procedural seeds the model never trained on), each made dense by isotropic
remeshing (pymeshlab) to ~30k triangles. Each method rebuilds the dense mesh at twice the artist
mesh's face count (the budget). Measured against the dense input: Chamfer and Hausdorff (% of
the bbox diagonal), quad ratio, faces / budget, interior valence histogram, seconds (the whole op
for Kiln; modifier + join for Blender). ``artist`` rows say how many results came from the model
and how many fell back to lowpoly.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from backend.geometry.metrics import surface_distance, topology_stats  # noqa: E402
from backend.geometry.polymesh import undirected_edges, weld_positions  # noqa: E402
from backend.models.artist_pipeline import fan_triangles  # noqa: E402
from backend.ops import retopo  # noqa: E402
from backend.runtime import CancelToken, no_progress  # noqa: E402
from shared.payload import MeshPayload  # noqa: E402

METHODS = ("artist", "lowpoly", "blender")
VAL_SEED = 10_000_000  # as backend/train/artist.py: procedural seeds from here are never trained on


def held_out(count: int, games: bool, max_faces: int) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, positions, face sizes, face indices) of ``count`` held-out artist meshes."""
    if games:
        from backend.train.artist import game_meshes
        found = game_meshes("held_out", max_faces)
        rng = np.random.default_rng(0)
        pick = rng.choice(len(found), size=min(count, len(found)), replace=False)
        return [found[i] for i in sorted(pick)]
    from backend.train.artist_data import procedural_mesh
    from backend.procedural.registry import categories
    names = list(categories())
    out = []
    for k in range(count):
        seed = VAL_SEED + 1000 + k * 7  # a spread of categories
        p, s, i = procedural_mesh(seed)
        out.append((f"{names[seed % len(names)]}-{seed - VAL_SEED}", p, s, i))
    return out


def dense(positions: np.ndarray, sizes: np.ndarray, indices: np.ndarray, faces: int = 30_000) -> MeshPayload:
    """The mesh isotropically remeshed (pymeshlab) to about ``faces`` triangles."""
    import pymeshlab

    ms = pymeshlab.MeshSet()
    ms.add_mesh(pymeshlab.Mesh(np.asarray(positions, np.float64), fan_triangles(sizes, indices)))
    area = ms.get_geometric_measures()["surface_area"]
    edge = float(np.sqrt(4 * area / (np.sqrt(3) * faces)))
    ms.meshing_isotropic_explicit_remeshing(targetlen=pymeshlab.PureValue(edge), iterations=4)
    m = ms.current_mesh()
    return MeshPayload.from_triangles(m.vertex_matrix(), m.face_matrix())


def kiln(mesh: MeshPayload, budget: int, mode: str) -> tuple[MeshPayload, float, str]:
    started = time.perf_counter()
    out = retopo.run({"mesh": mesh}, {"target_faces": budget, "mode": mode}, no_progress, CancelToken())["mesh"]
    return out, time.perf_counter() - started, out.info.get("path", mode)


def blender(mesh: MeshPayload, budget: int) -> tuple[MeshPayload, float, str]:
    """Decimate (collapse), then Tris to Quads (bmesh ``join_triangles``, 40 degree limits). Joining
    lowers the face count, so the ratio is corrected (at most three tries) towards the budget; the
    time is the last try's."""
    import bpy

    data = bpy.data.meshes.new("bench")
    data.from_pydata(mesh.positions.tolist(), [], mesh.triangulated().tolist())
    obj = bpy.data.objects.new("bench", data)
    bpy.context.scene.collection.objects.link(obj)
    ratio, best = min(1.0, budget / mesh.num_faces), None
    for _ in range(3):
        out, seconds = _decimate_join(obj, ratio)
        if out.num_faces <= budget and (best is None or out.num_faces > best[0].num_faces):
            best = (out, seconds)
        if abs(out.num_faces - budget) <= 0.03 * budget:
            break
        ratio = min(1.0, ratio * budget / max(out.num_faces, 1) * 0.99)
    bpy.data.objects.remove(obj)
    bpy.data.meshes.remove(data)
    out, seconds = best if best is not None else (out, seconds)
    return out, seconds, "blender"


def _decimate_join(obj, ratio: float) -> tuple[MeshPayload, float]:
    import bmesh
    import bpy

    started = time.perf_counter()
    obj.modifiers.clear()
    mod = obj.modifiers.new("decimate", "DECIMATE")
    mod.decimate_type = "COLLAPSE"
    mod.ratio = ratio
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    bm = bmesh.new()
    bm.from_mesh(evaluated.to_mesh())
    evaluated.to_mesh_clear()
    bmesh.ops.join_triangles(bm, faces=list(bm.faces), angle_face_threshold=np.radians(40),
                             angle_shape_threshold=np.radians(40))
    seconds = time.perf_counter() - started
    bm.verts.index_update()
    pos = np.array([v.co[:] for v in bm.verts], np.float32).reshape(-1, 3)
    faces = [[v.index for v in f.verts] for f in bm.faces]
    bm.free()
    return MeshPayload(pos, np.array([len(f) for f in faces], np.int32),
                       np.array([v for f in faces for v in f], np.int32)), seconds


def valence_histogram(mesh: MeshPayload) -> dict[str, int]:
    """Interior vertex valences: 3, 4, 5, 6+ (counts)."""
    _, indices = weld_positions(mesh.positions, mesh.face_indices)
    edges, counts = undirected_edges(mesh.face_sizes, indices)
    valence = np.bincount(edges.reshape(-1))
    boundary = np.zeros(len(valence), bool)
    boundary[edges[counts == 1].reshape(-1)] = True
    inner = valence[(valence > 0) & ~boundary]
    return {"3": int((inner == 3).sum()), "4": int((inner == 4).sum()), "5": int((inner == 5).sum()),
            "6+": int((inner >= 6).sum())}


def measure(out: MeshPayload, reference: MeshPayload, budget: int) -> dict:
    stats = topology_stats(out)
    dist = surface_distance(out, reference, samples=20_000)
    return {"faces": out.num_faces, "budget_ratio": out.num_faces / budget, "quad_ratio": stats.quad_ratio,
            "chamfer": dist.chamfer, "hausdorff": dist.hausdorff, "valence": valence_histogram(out),
            "boundary_edges": stats.boundary_edges, "nonmanifold_edges": stats.nonmanifold_edges}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--games", action="store_true", help="held-out game meshes (else held-out procedural)")
    ap.add_argument("--max-faces", type=int, default=400)
    ap.add_argument("--json")
    ap.add_argument("--render", help="write a gallery PNG of the first rows here")
    ap.add_argument("--methods", default=",".join(METHODS), help="a subset of " + ",".join(METHODS))
    args = ap.parse_args()
    methods = [m for m in METHODS if m in args.methods.split(",")]
    if "blender" in methods:
        import bpy  # noqa: F401 - fail early when bpy is missing

    rows, gallery = [], []
    head = (f"{'mesh':22s} {'art F':>5s} {'budget':>6s} | " + " | ".join(
        f"{m[:7]:>7s} F/B  quad  cham%  haus%    s" for m in methods) + " | path")
    print(head + "\n" + "-" * len(head), flush=True)
    for name, p, s, i in held_out(args.count, args.games, args.max_faces):
        src = MeshPayload(p.astype(np.float32), s.astype(np.int32), i.astype(np.int32))
        art_faces = int(len(s))
        budget = 2 * art_faces
        reference = dense(p, s, i)
        row = {"mesh": name, "artist_faces": art_faces, "budget": budget, "dense_faces": reference.num_faces}
        results = {}
        for method in methods:
            out, sec, path = blender(reference, budget) if method == "blender" else kiln(reference, budget, method)
            why = (out.info or {}).get("why", "")  # why the artist op handed back lowpoly's mesh
            row[method] = {**measure(out, reference, budget), "seconds": sec, "path": path, "why": why}
            results[method] = out
        rows.append(row)
        gallery.append((name, src, reference, results))
        cells = " | ".join(f"{row[m]['faces']:7d} {row[m]['budget_ratio']:4.2f} {row[m]['quad_ratio']:5.2f} "
                           f"{100 * row[m]['chamfer']:5.2f} {100 * row[m]['hausdorff']:6.2f} {row[m]['seconds']:5.1f}"
                           for m in methods)
        print(f"{name[-22:]:22s} {art_faces:5d} {budget:6d} | {cells} | {row[methods[0]]['path']} "
              f"{row[methods[0]]['why']}", flush=True)
    print("\nmeans over", len(rows), "meshes")
    for m in methods:
        def mean(key):
            return float(np.mean([r[m][key] for r in rows]))
        over = sum(r[m]["budget_ratio"] > 1 for r in rows)
        val = {k: sum(r[m]["valence"][k] for r in rows) for k in ("3", "4", "5", "6+")}
        total = max(sum(val.values()), 1)
        print(f"  {m:8s} faces/budget {mean('budget_ratio'):.2f} (over: {over}) quad {mean('quad_ratio'):.2f} "
              f"chamfer {100 * mean('chamfer'):.2f}% hausdorff {100 * mean('hausdorff'):.2f}% "
              f"time {mean('seconds'):.2f} s; valence 3/4/5/6+ "
              + "/".join(f"{val[k] / total:.2f}" for k in val))
    if "artist" in methods:
        used = sum(r["artist"]["path"] == "artist" for r in rows)
        print(f"  artist path: the model's own mesh on {used}/{len(rows)}, lowpoly fallback on {len(rows) - used}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if args.render:
        render(gallery[:6], Path(args.render), methods)
    return 0


def render(items, path: Path, methods: list[str]) -> None:
    """A grid: per row the artist mesh, the dense input, the model's own unchecked mesh (when
    ``artist`` is among ``methods``), then each method's result (polygon edges dark)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from backend.models.kiln_artist import CAPABILITY
    from backend.models.registry import get_registry
    from backend.procedural.gallery import rasterize

    registry = get_registry()
    model = registry.get(registry.default_name(CAPABILITY)) if "artist" in methods else None
    columns = 2 + (model is not None) + len(methods)
    fig, axes = plt.subplots(len(items), columns, figsize=(2 * columns, 2.1 * len(items)), squeeze=False)
    for row, (name, src, reference, results) in zip(axes, items):
        shown = [(f"{name[-28:]}", src), ("dense input", reference)]
        if model is not None:
            raw = model.rebuild(reference.positions, reference.triangulated(), 2 * src.num_faces,
                                temperature=retopo.ARTIST_TEMPERATURE, top_p=retopo.ARTIST_TOP_P, constrained=True,
                                coverage=retopo.ARTIST_COVERAGE, ask=retopo.ARTIST_ASK)
            shown.append(("model, unchecked (try 1)", MeshPayload(
                raw.positions.astype(np.float32), np.array([len(f) for f in raw.faces], np.int32),
                np.array([v for f in raw.faces for v in f], np.int32))))
        shown += [(f"{m}: {results[m].info.get('path', m) if results[m].info else m}", results[m]) for m in methods]
        for ax, (title, mesh) in zip(row, shown):
            if mesh.num_faces:
                ax.imshow(rasterize(mesh, size=200), interpolation="lanczos")
            ax.set_title(f"{title}\n{mesh.num_faces} faces", fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
