"""Coarse-to-fine vs dense SDF extraction: decoder queries, wall time and surface agreement.

    nice -n 10 .venv/bin/python bench/extract.py [--resolution 256] [--model NAME] [--prompts N]

For each SDF the dense baseline (every grid corner evaluated) and the coarse-to-fine extraction
(backend/geometry/extract.py) run in the same process at the same resolution; the script prints
both, their ratios, and the symmetric Chamfer distance between the two surfaces (mean
nearest-vertex distance both ways) relative to the bounding-box diagonal. SDFs: an analytic
torus, a procedural chair (CSG), and the learned shape model's decoder (the registry's default
learned model, or ``--model``) on the latents of ``--prompts`` category prompts.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.geometry.extract import extract_mesh  # noqa: E402

PROMPTS = ["a wooden chair", "a round table", "a floor lamp", "a wooden barrel"]


def torus(p):
    return np.hypot(np.linalg.norm(p[:, :2], axis=1) - 0.55, p[:, 2]) - 0.2


def procedural_chair():
    from backend.procedural.registry import generate
    from backend.procedural.sample import HALF_EXTENT
    asset = generate("chair", 7)
    lo, hi = asset.bounds()
    centre, scale = (lo + hi) / 2, 2 * HALF_EXTENT / float((hi - lo).max())
    return lambda p: asset.distance(p / scale + centre) * scale


def learned(name: str | None, prompts: list[str]) -> dict:
    """{label: decoder SDF} for the learned model's samples of ``prompts`` (seed 0)."""
    import torch
    from backend.models.registry import configure
    from backend.models.shape_flow import sample_latents

    torch.set_num_threads(1)
    registry = configure(None, "cpu")
    name = name or next(e.name for e in registry.entries("shape") if e.name != "procedural")
    pipeline = registry.get(name)
    out = {}
    for prompt in prompts:
        cond, uncond = pipeline.conditioner.encode(prompt, None)
        latents = pipeline.denormalise(sample_latents(pipeline.transformer, cond, uncond,
                                                      num_tokens=pipeline.num_tokens, steps=25, guidance=4.0, seed=0))
        with torch.no_grad():
            tokens = pipeline.vae.decode_tokens(latents)

        def sdf(p, tokens=tokens):
            with torch.no_grad():
                return pipeline.vae.query(tokens, torch.from_numpy(p)[None])[0].numpy()
        out[f"{name}: {prompt}"] = sdf
    return out


def measure(sdf, resolution: int, coarse: int | None) -> tuple[int, float, np.ndarray, np.ndarray]:
    stats = {}
    start = time.perf_counter()
    vertices, faces = extract_mesh(sdf, 1.0, resolution, coarse_resolution=coarse, batch_size=65536, stats=stats)
    return stats["queries"], time.perf_counter() - start, vertices, faces


def chamfer_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric mean nearest-vertex distance between two vertex sets / the bounding-box diagonal."""
    from scipy.spatial import cKDTree
    if len(a) == 0 or len(b) == 0:
        return float("inf") if len(a) != len(b) else 0.0
    d = 0.5 * (cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())
    return float(d / np.linalg.norm(np.ptp(b, axis=0)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--model", default=None, help="learned shape model (default: the registry's best)")
    parser.add_argument("--prompts", type=int, default=len(PROMPTS), help="how many learned-model prompts (0: none)")
    args = parser.parse_args()
    cases = {"torus (analytic)": torus, "chair (procedural CSG)": procedural_chair()}
    if args.prompts:
        cases.update(learned(args.model, PROMPTS[:args.prompts]))
    print(f"resolution {args.resolution}^3 cells; dense grid (baseline) vs coarse-to-fine, same run")
    print(f"{'sdf':40s} {'dense queries':>13s} {'c2f queries':>11s} {'fewer':>6s} {'dense s':>8s} {'c2f s':>7s} "
          f"{'faster':>6s} {'tris dense/c2f':>16s} {'Chamfer/diag':>12s}")
    for name, sdf in cases.items():
        dq, dt, dv, df = measure(sdf, args.resolution, args.resolution)
        hq, ht, hv, hf = measure(sdf, args.resolution, None)
        print(f"{name[:40]:40s} {dq:13d} {hq:11d} {dq / hq:5.1f}x {dt:8.2f} {ht:7.2f} {dt / ht:5.1f}x "
              f"{len(df):>7d}/{len(hf):<8d} {chamfer_ratio(hv, dv):12.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
