"""What stopping the extraction at the face budget costs in accuracy, on learned-model samples.

    nice -n 10 .venv/bin/python bench/extract_budget.py [--model NAME] [--budget 20000] [--guidance 4]
                                                        [--prompts "a wooden door" ...]

Each prompt's sample (seed 0) is extracted four ways: with the refinement stopped at the first
level whose surface has 3/4 of the ``budget``'s triangles (what the generate op does), the whole
budget, twice that, and at the full 256^3 grid; each is decimated to ``budget`` faces. Printed: the grid reached and the mean
and 99th-percentile distance from the result's surface to the undecimated 256^3 surface (the
coarse-to-fine one, which bench/extract.py shows is the dense grid's), relative to the
bounding-box diagonal (the baseline is the same sample in the same run).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = ["a wooden barrel", "a coffee mug", "a wooden chair", "a wooden door"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="learned shape model (default: the registry's best)")
    parser.add_argument("--budget", type=int, default=20000)
    parser.add_argument("--guidance", type=float, default=4.0, help="the generate op's default is 5")
    parser.add_argument("--prompts", nargs="+", default=PROMPTS)
    args = parser.parse_args()
    import torch
    import trimesh
    from backend.geometry.extract import extract_mesh, simplify_to_budget
    from backend.models.registry import configure
    from backend.models.shape_flow import sample_latents

    torch.set_num_threads(1)
    registry = configure(None, "cpu")
    name = args.model or next(e.name for e in registry.entries("shape") if e.name != "procedural")
    pipeline = registry.get(name)
    print(f"{name}; decimated to {args.budget} faces; distance to the undecimated 256^3 surface / diagonal")
    for prompt in args.prompts:
        cond, uncond = pipeline.conditioner.encode(prompt, None)
        latents = pipeline.denormalise(sample_latents(pipeline.transformer, cond, uncond,
                                                      num_tokens=pipeline.num_tokens, steps=25, guidance=args.guidance,
                                                      seed=0))
        with torch.no_grad():
            tokens = pipeline.vae.decode_tokens(latents)

            def sdf(x):
                return pipeline.vae.query(tokens, torch.from_numpy(x)[None])[0].numpy()
            reference = trimesh.Trimesh(*extract_mesh(sdf, 1.0, 256, batch_size=65536))
            diagonal = float(np.linalg.norm(reference.extents))
            for label, stop in (("3/4 budget", 3 * args.budget // 4), ("budget", args.budget),
                                ("2x budget", 2 * args.budget), ("256^3", None)):
                stats = {}
                vertices, faces = extract_mesh(sdf, 1.0, 256, stop_faces=stop, stats=stats, batch_size=65536)
                mesh = trimesh.Trimesh(*simplify_to_budget(vertices, faces, args.budget))
                points, _ = trimesh.sample.sample_surface(mesh, 20000, seed=0)
                _, distance, _ = trimesh.proximity.closest_point(reference, points)
                print(f"{prompt:18s} stop at {label:10s} grid {stats['resolution']:4d}  "
                      f"mean {distance.mean() / diagonal:.1e}"
                      f"  p99 {np.percentile(distance, 99) / diagonal:.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
