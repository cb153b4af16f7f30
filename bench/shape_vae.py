"""Two kiln-shape models side by side in one run: VAE reconstruction and what generation makes.

    .venv/bin/python bench/shape_vae.py --data /work/runs/shapedata/proc280 \
        --models kiln-shape-s,kiln-shape-m --json bench/shape_vae.json --gallery bench/gallery-kiln-shape-m.png

1. VAE F@0.02 / Chamfer / normal consistency (``backend.train.shape_metrics``) on the procedural
   dataset's held-out shapes (the training split's hash), per category, and on held-out package
   meshes (``backend.datasets.sources.split`` == "held_out": 0 A.D., SuperTuxKart, pybullet_data),
   scored against the original (open) game mesh. The first model is the baseline: ratios are
   later / first. ``--tokens`` also scores the first model read with other token counts.
2. Category check that does not use our VAE: each model generates one shape per procedural
   category (its first description as the prompt); the shape is classified by its nearest
   neighbour (symmetric Chamfer over 1024 surface points, both normalised as training data) among
   every shape of the procedural dataset; reports the nearest category per prompt.
3. ``--gallery``: the last model's generations rendered in a grid.

A VAE without a generator (a ``train vae`` run stem, or an embedded VAE-only model such as
kiln-shape-g) is scored on part 1 only.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METRICS = ("fscore", "chamfer", "normal_consistency")
FIRST_EIGHT = ("barrel", "bottle", "chair", "crate", "lamp", "mug", "stool", "table")  # kiln-shape-s's categories


def pipeline_of(name: str):
    """A registered model by name, or a kiln-shape checkpoint stem (a candidate not yet shipped)."""
    from backend.models.registry import ModelRegistry
    from backend.models.shape_pipeline import ShapePipeline

    if Path(name + ".json").is_file() and Path(name + ".safetensors").is_file():
        return ShapePipeline.from_checkpoint(name)
    registry = ModelRegistry(None, "cpu")
    registry.discover()
    return registry.get(name)


def procedural_held_out(data: str, limit: int):
    from backend.train.data import is_held_out, open_dataset
    dataset = open_dataset(data)
    rows = [i for i in range(len(dataset)) if is_held_out(i, 0.05)][:limit]
    return [(dataset[i]["category"], f"{i}-{dataset[i]['category']}", dataset[i]["mesh_vertices"],
             dataset[i]["mesh_faces"]) for i in rows]


def package_held_out(per_source: dict):
    from backend.datasets.mesh_dataset import choose
    from backend.datasets.sources import discover, load_mesh
    shapes = []
    for ref in choose(discover(tuple(per_source)), "held_out", per_source):
        vertices, faces = load_mesh(ref)
        if len(faces) >= 12:
            shapes.append((ref.source, ref.name, vertices, faces))
    return shapes


def compare_fast(pred_v, pred_f, ref_v, ref_f, tau: float = 0.02, count: int = 10000, dense: int = 100_000) -> dict:
    """``backend.train.shape_metrics.compare_surfaces`` (same frame, F@tau, Chamfer, normal
    consistency), with point-to-surface distances taken to a dense sample cloud of the other
    surface instead of its triangles: 10-50x faster on the shared CPU; at 100k samples the
    distance error is a few thousandths of the [-1, 1] frame (checked against the exact
    metric on real shapes in bench/RESULTS.md)."""
    from scipy.spatial import cKDTree
    from backend.train.shape_metrics import sample_with_normals, unit_cube_transform

    centre, scale = unit_cube_transform(np.asarray(ref_v, dtype=np.float64))
    pv = (np.asarray(pred_v, dtype=np.float64) - centre) * scale
    rv = (np.asarray(ref_v, dtype=np.float64) - centre) * scale
    p_pts, p_n = sample_with_normals(pv, pred_f, count, 0)
    r_pts, r_n = sample_with_normals(rv, ref_f, count, 1)
    p_dense, r_dense = sample_with_normals(pv, pred_f, dense, 2)[0], sample_with_normals(rv, ref_f, dense, 3)[0]
    to_ref, _ = cKDTree(r_dense).query(p_pts)
    to_pred, _ = cKDTree(p_dense).query(r_pts)
    _, ri = cKDTree(r_pts).query(p_pts)
    _, pi = cKDTree(p_pts).query(r_pts)
    precision, recall = float((to_ref < tau).mean()), float((to_pred < tau).mean())
    fscore = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    nc = 0.5 * (np.abs((p_n * r_n[ri]).sum(1)).mean() + np.abs((r_n * p_n[pi]).sum(1)).mean())
    return {"fscore": fscore, "chamfer": 0.5 * (to_ref.mean() + to_pred.mean()), "normal_consistency": float(nc)}


def vae_scores(auto, shapes, resolution: int, num_tokens=None):
    rows = []
    for group, name, vertices, faces in shapes:
        try:
            out_v, out_f = auto.reconstruct(vertices, faces, resolution, num_tokens=num_tokens)
            scores = compare_fast(out_v, out_f, vertices, faces)
        except ValueError as exc:  # an empty decode scores zero, honestly
            print(f"    {name}: {exc}")
            scores = {"fscore": 0.0, "chamfer": 1.0, "normal_consistency": 0.0}
        rows.append({"group": group, "shape": name, **{k: round(float(scores[k]), 5) for k in METRICS}})
    return rows


def summary(rows, groups=None):
    chosen = [r for r in rows if groups is None or r["group"] in groups]
    return {k: round(float(np.mean([r[k] for r in chosen])), 4) for k in METRICS} | {"n": len(chosen)}


def normalised_points(vertices, faces, count=1024, seed=0):
    from backend.train.shape_metrics import sample_with_normals
    lo, hi = vertices.min(0), vertices.max(0)
    v = (vertices - (lo + hi) / 2) * (1.8 / max(float((hi - lo).max()), 1e-9))
    return sample_with_normals(v, faces, count, seed)[0]


def category_check(pipeline, data: str, resolution: int, seed: int):
    """[(category, prompt, nearest category, chamfer, vertices, faces)] for one model."""
    from scipy.spatial import cKDTree
    from backend.procedural.registry import categories
    from backend.runtime import CancelToken, OpError
    from backend.train.data import open_dataset

    dataset = open_dataset(data)
    references = []
    for i in range(len(dataset)):
        item = dataset[i]
        pts = np.asarray(item["surface_points"])[::max(1, len(item["surface_points"]) // 1024)][:1024]
        references.append((item["category"], pts, cKDTree(pts)))
    rows = []
    for category, entry in categories().items():
        prompt = entry.descriptions[0]
        try:
            mesh = pipeline.generate(prompt, None, {"seed": seed, "resolution": resolution}, lambda *a: None,
                                     CancelToken())
        except OpError:  # an empty decode: a miss, drawn as an empty cell
            rows.append((category, prompt, "(empty)", float("inf"), np.zeros((3, 3)), np.array([[0, 1, 2]])))
            continue
        faces = mesh.face_indices.reshape(-1, 3)
        points = normalised_points(mesh.positions.astype(np.float64), faces)
        tree = cKDTree(points)
        best = min(((0.5 * (ref_tree.query(points)[0].mean() + tree.query(ref_pts)[0].mean()), ref_cat)
                    for ref_cat, ref_pts, ref_tree in references))
        rows.append((category, prompt, best[1], float(best[0]), mesh.positions, faces))
    return rows


def gallery(rows, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from backend.train.render import render_view

    columns = 7
    lines = -(-len(rows) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(2.4 * columns, 2.6 * lines), dpi=72)
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, (category, prompt, nearest, _, vertices, faces) in zip(np.ravel(axes), rows):
        if nearest == "(empty)":
            ax.set_title(f'"{prompt}" (empty)', fontsize=7, color="firebrick")
            continue
        centred = vertices - (vertices.min(0) + vertices.max(0)) / 2
        image = render_view(centred / max(np.abs(centred).max(), 1e-6) * 0.9, faces, azimuth=35, elevation=20,
                            size=160, samples=60000)
        ax.imshow(np.where(image[..., 3:] > 0, image[..., :3], 255))
        mark = "" if nearest == category else f" (looks like {nearest})"
        ax.set_title(f'"{prompt}"{mark}', fontsize=7, color="black" if not mark else "firebrick")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="kiln-shape-s,kiln-shape-m", help="baseline first, comma-separated")
    parser.add_argument("--data", required=True, help="procedural dataset (held-out shapes; category references)")
    parser.add_argument("--limit", type=int, default=40, help="held-out procedural shapes to score")
    parser.add_argument("--packages", default="0ad=24,supertuxkart=8,pybullet_data=8",
                        help="held-out package meshes per source")
    parser.add_argument("--tokens", default="", help="also score the first model at these token counts, e.g. 128")
    parser.add_argument("--resolution", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--gallery", type=Path, default=None)
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument("--skip-vae", action="store_true", help="only the category check and gallery")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="JSON of an earlier run: models scored there are taken from it (the scores are "
                             "deterministic: same shapes, seeds and resolution)")
    args = parser.parse_args()

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    proc = [] if args.skip_vae else procedural_held_out(args.data, args.limit)
    packages = [] if args.skip_vae else package_held_out(
        {k: int(v) for k, v in (p.split("=") for p in args.packages.split(",") if p)})
    print(f"{len(proc)} held-out procedural shapes, {len(packages)} held-out package meshes")
    results = {"command": " ".join(sys.argv), "models": names}
    earlier = json.loads(args.reuse.read_text()) if args.reuse else {}
    for n, name in enumerate(names):
        if name in earlier:
            results.update({k: v for k, v in earlier.items() if k == name or k.startswith(name + "@")})
            results.setdefault("reused", []).append(f"{name} from {args.reuse} ({earlier.get('command', '')})")
            continue
        started = time.perf_counter()
        from backend.models.shape_reconstruct import Autoencoder, vae_only_stem
        auto = Autoencoder.load(name)  # a registered name, a kiln-shape stem or a `train vae` run stem
        results[name] = {}
        variants = [] if args.skip_vae else [(name, None)] + ([(f"{name}@{t}", int(t)) for t in args.tokens.split(",") if t] if n == 0 else [])
        for label, tokens in variants:
            rows = vae_scores(auto, proc + packages, args.resolution, tokens)
            results[label] = {"rows": rows,
                              "procedural": summary(rows, {r["group"] for r in rows if not r["group"] in
                                                           ("0ad", "supertuxkart", "pybullet_data")}),
                              "procedural_first_eight": summary(rows, FIRST_EIGHT),
                              "packages": summary(rows, {"0ad", "supertuxkart", "pybullet_data"})}
            print(f"{label}: procedural {results[label]['procedural']}  (first eight categories "
                  f"{results[label]['procedural_first_eight']})  packages {results[label]['packages']}", flush=True)
        if not args.skip_generation and vae_only_stem(name):
            print(f"{name}: a VAE without a generator, no category check", flush=True)
        elif not args.skip_generation:
            checks = category_check(pipeline_of(name), args.data, args.resolution, args.seed)
            hits = [c == nearest for c, _, nearest, *_ in checks]
            results[name]["category_check"] = [{"category": c, "prompt": p, "nearest": nn, "chamfer": round(d, 4)}
                                               for c, p, nn, d, *_ in checks]
            results[name]["category_accuracy"] = round(float(np.mean(hits)), 4)
            print(f"{name}: nearest-neighbour category matches the prompt for {sum(hits)}/{len(hits)}: "
                  + ", ".join(f"{c}->{nn}" for c, _, nn, *_ in checks), flush=True)
            if args.gallery and n == len(names) - 1:
                gallery(checks, args.gallery, f"{name}, seed {args.seed}, one prompt per category "
                        "(red: the nearest procedural shape is another category)")
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    base = names[0]
    for name in [] if args.skip_vae else names[1:]:
        for part in ("procedural", "procedural_first_eight", "packages"):
            ratio = {k: round(results[name][part][k] / max(results[base][part][k], 1e-9), 3) for k in METRICS}
            results.setdefault("ratios", {})[f"{name}/{base} {part}"] = ratio
            print(f"{name} / {base} on {part}: {ratio}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
