"""kiln-shape-s on CPU: text -> mesh time by stage, a gallery per category, VAE F-scores.

    .venv/bin/python bench/shape_model.py --data data/shapes512 [--model kiln-shape-s] [--out bench/gallery.png]

1. One prompt per procedural category -> mesh, timed by stage (encode, sample, extract, simplify).
   The extract stage is also run with the dense grid on the same latents: the baseline ratio.
2. The meshes rendered side by side with their prompts (matplotlib) -> ``--out``.
3. VAE reconstruction F-score@0.02 / Chamfer / normal consistency on the dataset's held-out
   shapes and on pymeshlab's sample meshes (bunny, cow, airplane).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = {"barrel": "a wooden barrel", "bottle": "a glass bottle", "chair": "a wooden chair with four legs",
           "crate": "a wooden crate", "lamp": "a table lamp", "mug": "a ceramic mug with a handle",
           "stool": "a round stool with three legs", "table": "a wooden table with four legs"}


def generation_timings(pipeline, prompts: dict, seed: int, resolution: int):
    """[(category, prompt, vertices, faces, timings)] and the dense-extraction baseline seconds."""
    import torch
    from backend.geometry.extract import extract_mesh
    from backend.models.shape_flow import sample_latents
    from backend.runtime import CancelToken

    rows = []
    for category, prompt in prompts.items():
        mesh = pipeline.generate(prompt, None, {"seed": seed, "resolution": resolution},
                                 lambda *a: None, CancelToken())
        faces = mesh.face_indices.reshape(-1, 3)
        rows.append((category, prompt, mesh.positions, faces, mesh.info["timings"]))
    # dense baseline for the extract stage, on the first prompt's latents
    cond, uncond = pipeline.conditioner.encode(next(iter(prompts.values())), None)
    latents = pipeline.denormalise(sample_latents(pipeline.transformer, cond, uncond, num_tokens=pipeline.num_tokens,
                                                  steps=25, guidance=4.0, seed=seed))
    tokens = pipeline.vae.decode_tokens(latents)

    def sdf(p):
        with torch.no_grad():
            return pipeline.vae.query(tokens, torch.from_numpy(p)[None])[0].numpy()

    timed = {}
    for label, coarse in (("dense", resolution), ("hierarchical", None)):
        start = time.perf_counter()
        extract_mesh(sdf, 1.0, resolution, coarse_resolution=coarse, batch_size=32768)
        timed[label] = time.perf_counter() - start
    return rows, timed


def gallery(rows, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from backend.train.render import render_view

    columns = 4
    lines = -(-len(rows) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(3 * columns, 3.2 * lines), dpi=80)
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, (category, prompt, vertices, faces, _) in zip(np.ravel(axes), rows):
        centred = vertices - (vertices.min(0) + vertices.max(0)) / 2
        image = render_view(centred / max(np.abs(centred).max(), 1e-6) * 0.9, faces, azimuth=35, elevation=20,
                            size=192, samples=80000)
        rgb = np.where(image[..., 3:] > 0, image[..., :3], 255)
        ax.imshow(rgb)
        ax.set_title(f'"{prompt}"', fontsize=8)
    fig.suptitle("kiln-shape-s, seed 0, 25 Euler steps, guidance 4", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def vae_scores(model: str, data: str | None, limit: int, resolution: int):
    from backend.models.shape_reconstruct import Autoencoder, triangles_of
    from backend.meshio import read_mesh
    from backend.train.shape_metrics import compare_surfaces

    auto = Autoencoder.load(model)
    sets = {}
    if data:
        from backend.train.data import is_held_out, open_dataset
        dataset = open_dataset(data)
        held = [i for i in range(len(dataset)) if is_held_out(i, 0.05)][:limit]
        sets["procedural held-out"] = [(f"{i}-{dataset[i]['category']}", dataset[i]["mesh_vertices"],
                                        dataset[i]["mesh_faces"]) for i in held]
    import pymeshlab
    samples = Path(pymeshlab.__file__).parent / "tests" / "sample_meshes"
    sets["pymeshlab meshes"] = [(name, *triangles_of(read_mesh(samples / f"{name}.obj")))
                                for name in ("bunny", "cow", "airplane")]
    results = {}
    for label, shapes in sets.items():
        scores = []
        for name, vertices, faces in shapes:
            out_v, out_f = auto.reconstruct(vertices, faces, resolution)
            scores.append((name, compare_surfaces(out_v, out_f, vertices, faces).as_dict()))
        results[label] = scores
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="kiln-shape-s")
    parser.add_argument("--data", default=None, help="procedural dataset for held-out VAE scores")
    parser.add_argument("--out", type=Path, default=Path("bench/gallery-kiln-shape-s.png"))
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--limit", type=int, default=16, help="held-out shapes to score")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-vae-scores", action="store_true", help="skip part 3 (slow on a busy CPU)")
    args = parser.parse_args()

    from backend.models.registry import ModelRegistry
    registry = ModelRegistry(None, "cpu")
    registry.discover()
    pipeline = registry.get(args.model)
    pipeline.conditioner.encode("warm-up", None)  # load MiniLM before timing

    rows, extract = generation_timings(pipeline, PROMPTS, args.seed, args.resolution)
    print(f"text -> mesh on CPU, {args.resolution}^3 extraction, 25 steps, guidance 4 (seconds)")
    print(f"{'prompt':36s} {'encode':>7s} {'sample':>7s} {'extract':>8s} {'simplify':>9s} {'total':>7s} {'tris':>7s}")
    for category, prompt, _, faces, t in rows:
        total = sum(t.values())
        print(f"{prompt:36s} {t['encode']:7.2f} {t['sample']:7.2f} {t['extract']:8.2f} {t['simplify']:9.2f} "
              f"{total:7.2f} {len(faces):7d}")
    means = {k: np.mean([r[4][k] for r in rows]) for k in ("encode", "sample", "extract", "simplify")}
    print(f"{'mean':36s} {means['encode']:7.2f} {means['sample']:7.2f} {means['extract']:8.2f} "
          f"{means['simplify']:9.2f} {sum(means.values()):7.2f}")
    print(f"extraction of one latent shape: dense {extract['dense']:.2f} s, hierarchical "
          f"{extract['hierarchical']:.2f} s -> {extract['dense'] / extract['hierarchical']:.1f}x faster")
    gallery(rows, args.out)
    print(f"gallery: {args.out}")

    if args.no_vae_scores:
        return 0
    for label, scores in vae_scores(args.model, args.data, args.limit, args.resolution).items():
        mean = {k: np.mean([s[k] for _, s in scores]) for k in ("fscore", "chamfer", "normal_consistency")}
        print(f"VAE on {label} ({len(scores)} shapes): F@0.02 {mean['fscore']:.3f}, Chamfer {mean['chamfer']:.4f}, "
              f"normal consistency {mean['normal_consistency']:.3f}")
        for name, s in scores:
            print(f"    {name:24s} F {s['fscore']:.3f}  Chamfer {s['chamfer']:.4f}  NC {s['normal_consistency']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
