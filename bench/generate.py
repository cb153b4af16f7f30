"""The generate op per category: warm latency by stage, largest-piece share, and a gallery.

    nice -n 10 .venv/bin/python bench/generate.py [--model NAME] [--out bench/gallery-generate.png]
    nice -n 10 .venv/bin/python bench/generate.py --categories desk,door --baseline 0   # part 1 only

1. One prompt per procedural category through the learned model (the registry's best, or
   ``--model``), warm (model and MiniLM loaded first): seconds per stage (encode, sample,
   select: the candidates' coarse decodes, extract, simplify), wall and CPU seconds of the whole op (one thread: on a busy shared machine
   the CPU seconds are what an idle core would take), the grid the face budget stopped at,
   decoder queries, and the share of the
   surface area in the largest connected piece, before and after the floater clean-up. Baseline in
   the same run: the same latents extracted at the full 256^3 without the face-budget stop.
2. The same prompts through ``model=auto`` (routes them to the procedural engine), and six
   out-of-category prompts through ``model=auto`` (routes them to the learned model): the
   summary and warning the user is shown.
3. A PNG: row blocks for auto, learned and out-of-category, each titled with what the user sees.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CATEGORY_PROMPTS = {
    "armchair": "a leather armchair", "barrel": "a wooden barrel", "bed": "a double bed", "bench": "a park bench",
    "bookshelf": "a tall bookshelf", "bottle": "a glass bottle", "bowl": "a soup bowl",
    "cabinet": "a kitchen cabinet", "candle": "a wax candle", "chair": "a wooden chair", "crate": "a wooden crate",
    "desk": "an office desk", "door": "a wooden door", "fence": "a picket fence", "flower_pot": "a flower pot",
    "house": "a small house", "lamp": "a floor lamp", "mug": "a coffee mug", "rock": "a big rock",
    "shield": "a round shield", "sofa": "a sofa", "stool": "a bar stool", "sword": "a long sword",
    "table": "a round table", "trash_can": "a trash can", "tree": "a pine tree", "vase": "a tall vase",
    "wardrobe": "a wardrobe",
}
OUT_OF_CATEGORY = ["a dragon", "a car", "a spaceship", "a cat", "a robot", "a teapot"]


def run_op(params: dict):
    from backend.ops import generate
    from backend.runtime import CancelToken
    from shared.protocol import validate_params
    return generate.run({}, validate_params(generate.params_schema(), params), lambda *a: None, CancelToken())["mesh"]


def extract_cpu_seconds(pipeline, prompt: str) -> tuple[float, float, int, int]:
    """CPU seconds of extract + simplify for one sample: the op's path (face-budget stop) and the
    baseline (the full 256^3 grid, then decimation); and both triangle counts before decimation."""
    import torch
    from backend.geometry.extract import extract_mesh, simplify_to_budget
    from backend.models.shape_flow import sample_latents

    cond, uncond = pipeline.conditioner.encode(prompt, None)
    latents = pipeline.denormalise(sample_latents(pipeline.transformer, cond, uncond, num_tokens=pipeline.num_tokens,
                                                  steps=25, guidance=4.0, seed=0))
    start = time.process_time()
    pipeline.latents_to_mesh(latents, 256, 20000, report=(ours := {}))
    ours_s = time.process_time() - start
    start = time.process_time()
    with torch.no_grad():
        tokens = pipeline.vae.decode_tokens(latents)

        def sdf(p):
            return pipeline.vae.query(tokens, torch.from_numpy(p)[None])[0].numpy()
        vertices, faces = extract_mesh(sdf, 1.0, 256, batch_size=32768)
    simplify_to_budget(vertices, faces, 20000)
    return ours_s, time.process_time() - start, ours["resolution"], len(faces)


def render(mesh, size: int = 220) -> np.ndarray:
    """RGB image of a MeshPayload (learned meshes decimated to 4000 triangles for the rasterizer)."""
    from backend.geometry.extract import simplify_to_budget
    from backend.procedural.gallery import rasterize
    from shared.payload import MeshPayload
    if mesh.num_faces > 4000 and mesh.part_ids is None:
        v, f = simplify_to_budget(mesh.positions, mesh.face_indices.reshape(-1, 3), 4000)
        mesh = MeshPayload.from_triangles(v, f)
    return rasterize(mesh, size=size)


def gallery(blocks: list[tuple[str, list]], path: Path, columns: int = 7) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = sum(-(-len(items) // columns) for _, items in blocks)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 2.1, rows * 2.35), squeeze=False)
    row = 0
    for heading, items in blocks:
        lines = -(-len(items) // columns)
        for k in range(lines * columns):
            ax = axes[row + k // columns, k % columns]
            ax.axis("off")
            if k < len(items):
                image, title = items[k]
                ax.imshow(image, interpolation="lanczos")
                ax.set_title(title, fontsize=6.5, wrap=True)
        axes[row, 0].text(-0.1, 1.45, heading, transform=axes[row, 0].transAxes, fontsize=10, fontweight="bold")
        row += lines
    fig.tight_layout(h_pad=2.4)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def wrap(text: str, width: int = 34) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width)[:4])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="learned shape model (default: the registry's best)")
    parser.add_argument("--models-dir", default=None, help="a folder of more kiln-shape checkpoints (candidates)")
    parser.add_argument("--out", default="bench/gallery-generate.png")
    parser.add_argument("--baseline", type=int, default=3, help="prompts that also run the 256^3 baseline")
    parser.add_argument("--categories", default=None,
                        help="comma-separated subset: only their learned-model rows (no model=auto part, no gallery)")
    args = parser.parse_args()
    prompts = CATEGORY_PROMPTS if not args.categories else {c: CATEGORY_PROMPTS[c] for c in args.categories.split(",")}
    import torch
    torch.set_num_threads(1)
    from backend.models.registry import configure

    registry = configure(Path(args.models_dir) if args.models_dir else None, "cpu")
    learned = args.model or next(e.name for e in registry.entries("shape") if e.name != "procedural")
    print(f"learned model: {learned}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    run_op({"prompt": "a wooden chair", "model": learned})           # warm: weights and MiniLM loaded
    run_op({"prompt": "a wooden chair"})                              # warm: the procedural matcher
    stages = ("encode", "sample", "select", "extract", "simplify")
    print(f"\n{'category':11s} {'prompt':20s} " + " ".join(f"{s:>8s}" for s in stages)
          + f" {'total':>6s} {'wall':>6s} {'cpu':>6s} {'grid':>5s} {'queries':>8s} {'raw share':>9s} "
          + f"{'share':>6s} {'tris':>6s} {'tried':>5s} {'kept':>4s} {'+level':>6s}")
    learned_items, auto_items, rows = [], [], []
    for category, prompt in prompts.items():
        start, cpu_start = time.perf_counter(), time.process_time()
        mesh = run_op({"prompt": prompt, "model": learned})
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        t, ex, picked = mesh.info["timings"], mesh.info["extraction"], mesh.info["candidates"]
        rows.append((t, wall, ex, cpu))
        print(f"{category:11s} {prompt[:20]:20s} " + " ".join(f"{t.get(s, 0):8.2f}" for s in stages)
              + f" {sum(t.values()):6.2f} {wall:6.2f} {cpu:6.2f} {ex['resolution']:5d} {ex['queries']:8d} "
              + f"{ex['largest_piece_share_before']:9.3f} {ex['largest_piece_share']:6.3f} {mesh.num_faces:6d} "
              + f"{len(picked['tried']):5d} {picked['kept']:4d} {ex.get('level_offset', 0.0):6.3f}", flush=True)
        learned_items.append((render(mesh), wrap(f'"{prompt}"\n{mesh.info["summary"]}, '
                                                  f'largest piece {ex["largest_piece_share"]:.0%}')))
        if args.categories:
            continue
        auto = run_op({"prompt": prompt})
        auto_items.append((render(auto), wrap(f'"{prompt}"\n{auto.info["summary"]}')))
    mean = {s: np.mean([r[0].get(s, 0) for r in rows]) for s in stages}
    print(f"{'mean':32s} " + " ".join(f"{mean[s]:8.2f}" for s in stages)
          + f" {sum(mean.values()):6.2f} {np.mean([r[1] for r in rows]):6.2f} {np.mean([r[3] for r in rows]):6.2f}")
    print(f"op CPU seconds <= 3 in {sum(r[3] <= 3 for r in rows)}/{len(rows)} prompts "
          f"(max {max(r[3] for r in rows):.2f})")
    shares = [r[2]["largest_piece_share"] for r in rows]
    print(f"largest-piece share >= 0.95 in {sum(s >= 0.95 for s in shares)}/{len(shares)} categories "
          f"(min {min(shares):.3f}, median {np.median(shares):.3f})")

    pipeline = registry.get(learned)
    print("\nbaseline in the same run, CPU seconds of extract + simplify on the same sample: the full 256^3 grid "
          "(no face-budget stop) + decimation vs the op's path")
    for category, prompt in list(prompts.items())[:args.baseline]:
        ours, full, grid, triangles = extract_cpu_seconds(pipeline, prompt)
        print(f"{category:11s} 256^3: {full:6.2f} s ({triangles} triangles before decimation); "
              f"budget stop at {grid}^3: {ours:5.2f} s -> {full / ours:4.1f}x less CPU")

    if args.categories:
        return 0
    print("\nout-of-category prompts through model=auto:")
    ooc_items = []
    for prompt in OUT_OF_CATEGORY:
        mesh = run_op({"prompt": prompt})
        print(f"  {prompt!r}: {mesh.info['summary']} | {mesh.info.get('warning', '')}")
        ooc_items.append((render(mesh), wrap(f'"{prompt}": {mesh.info.get("warning") or mesh.info["summary"]}', 38)))
    gallery([("model=auto (28 category prompts -> procedural)", auto_items),
             (f"learned model {learned} (same prompts)", learned_items),
             ("out-of-category prompts, model=auto (what the user is told)", ooc_items)], Path(args.out))
    print(f"gallery: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
