"""Hierarchical vs dense SDF extraction: decoder queries and wall time for the same surface.

    .venv/bin/python bench/extract.py [--resolution 256] [--neural runs/vae/best]

For each SDF the dense baseline (every grid corner evaluated) and the hierarchical extraction
(coarse grid + refinement near the zero level) run in the same process; the script prints both,
their ratios, and checks that the surfaces agree (same triangle count, max vertex offset).
With ``--neural`` (a VAE or kiln-shape checkpoint) a decoded latent shape is included: there a
query costs a transformer cross-attention, which is what the hierarchy saves.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.geometry.extract import extract_mesh  # noqa: E402


def torus(p):
    return np.hypot(np.linalg.norm(p[:, :2], axis=1) - 0.55, p[:, 2]) - 0.2


def procedural_chair():
    from backend.procedural.registry import generate
    from backend.procedural.sample import HALF_EXTENT
    asset = generate("chair", 7)
    lo, hi = asset.bounds()
    centre, scale = (lo + hi) / 2, 2 * HALF_EXTENT / float((hi - lo).max())
    return lambda p: asset.distance(p / scale + centre) * scale


def neural(stem: str):
    import torch
    from backend.models.shape_reconstruct import Autoencoder
    from backend.train.shape_metrics import sample_with_normals
    import trimesh

    auto = Autoencoder.load(stem)
    mesh = trimesh.creation.torus(0.55, 0.2)
    points, normals = sample_with_normals(mesh.vertices * 0.9 / 0.75, mesh.faces, 4096, 0)
    with torch.no_grad():
        mean, _ = auto.vae.encode(torch.tensor(points, dtype=torch.float32)[None],
                                  torch.tensor(normals, dtype=torch.float32)[None])
        tokens = auto.vae.decode_tokens(mean)

    def sdf(p):
        with torch.no_grad():
            return auto.vae.query(tokens, torch.from_numpy(p)[None])[0].numpy()
    return sdf


def measure(sdf, resolution: int, coarse: int) -> tuple[int, float, np.ndarray, np.ndarray]:
    count = [0]

    def counted(p):
        count[0] += len(p)
        return sdf(p)

    start = time.perf_counter()
    vertices, faces = extract_mesh(counted, 1.0, resolution, coarse_resolution=coarse)
    return count[0], time.perf_counter() - start, vertices, faces


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--neural", default=None, help="VAE/kiln-shape checkpoint stem to include a decoder SDF")
    args = parser.parse_args()
    cases = {"torus (analytic)": torus, "chair (procedural CSG)": procedural_chair()}
    if args.neural:
        cases["torus (VAE decoder)"] = neural(args.neural)
    print(f"resolution {args.resolution}^3 cells; dense baseline vs hierarchical (coarse 32 -> refine)")
    print(f"{'sdf':26s} {'dense queries':>14s} {'hier queries':>13s} {'ratio':>6s} {'dense s':>8s} "
          f"{'hier s':>7s} {'speed-up':>8s}  same surface")
    for name, sdf in cases.items():
        resolution = args.resolution if "decoder" not in name else min(args.resolution, 128)
        dq, dt, dv, df = measure(sdf, resolution, resolution)
        hq, ht, hv, hf = measure(sdf, resolution, 32)
        same = len(df) == len(hf)
        offset = float(np.abs(np.sort(dv, axis=0) - np.sort(hv, axis=0)).max()) if same else float("nan")
        print(f"{name:26s} {dq:14d} {hq:13d} {dq / hq:5.1f}x {dt:8.2f} {ht:7.2f} {dt / ht:7.1f}x  "
              f"{'yes' if same else 'NO'} ({len(hf)} tris, max vertex offset {offset:.1e})"
              + (f"  [at {resolution}^3]" if resolution != args.resolution else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
