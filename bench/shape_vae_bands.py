"""Where a shape VAE goes wrong, in seconds: decoded signed distance against the dataset's exact one,
per distance band, on training shapes and on held-out shapes, for several checkpoints in one run.

    .venv/bin/python bench/shape_vae_bands.py --data /work/runs/shapedata/proc280 \
        --models kiln-shape-s,kiln-shape-m,/work/runs/shape2/vae-kl4/best

No extraction: every procedural sample stores near-surface points jittered off the surface by
Gaussians of sigma 0.005, 0.02 and 0.06 (a third each) and uniform far points, each with its
exact signed distance. The VAE encodes 4096 of the sample's surface points (posterior mean) and is
queried at all of them. Per band: mean |error| (L1) and sign accuracy (inside/outside right; 0.5
is a coin toss). The training side is as many training shapes as there are held-out ones, drawn
with a fixed seed: a gap between the two says the model overfits (more data helps), no gap with
low accuracy says it underfits (capacity, steps, loss). Also the mean decoded value on the
surface (0 for a perfect model; positive: the decoded surface lies inside the true one, so thin
parts vanish).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BANDS = ("0.005", "0.02", "0.06")


def band_scores(auto, item, count: int = 4096) -> dict:
    """Per-band L1 / sign accuracy of one sample (see the module docstring)."""
    import torch

    points, normals = np.asarray(item["surface_points"]), np.asarray(item["surface_normals"])
    take = np.random.default_rng(1).choice(len(points), min(count, len(points)), replace=False)
    tensor = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32))[None]  # noqa: E731
    with torch.no_grad():
        mean, _ = auto.vae.encode(tensor(points[take]), tensor(normals[take]))
        tokens = auto.vae.decode_tokens(mean)
        near = auto.vae.query(tokens, tensor(item["near_points"]))[0].numpy() - auto.level
        far = auto.vae.query(tokens, tensor(item["far_points"]))[0].numpy() - auto.level
        surface = auto.vae.query(tokens, tensor(points[take]))[0].numpy() - auto.level
    truth_near, truth_far = np.asarray(item["near_sdf"]), np.asarray(item["far_sdf"])
    third = len(truth_near) // len(BANDS)
    row = {}
    for j, band in enumerate(BANDS):
        part = slice(j * third, (j + 1) * third)
        row[f"l1@{band}"] = float(np.abs(near[part] - truth_near[part]).mean())
        row[f"sign@{band}"] = float(((near[part] < 0) == (truth_near[part] < 0)).mean())
    row["l1@far"] = float(np.abs(far - truth_far).mean())
    row["sign@far"] = float(((far < 0) == (truth_far < 0)).mean())
    row["on_surface"] = float(surface.mean())
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="procedural dataset (its 5% hash split is held out)")
    parser.add_argument("--models", required=True, help="registered names or checkpoint stems, comma-separated")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from backend.models.shape_reconstruct import Autoencoder
    from backend.train.data import is_held_out, open_dataset

    torch.set_num_threads(1)
    dataset = open_dataset(args.data)
    held = [i for i in range(len(dataset)) if is_held_out(i, 0.05)]
    train = [i for i in range(len(dataset)) if not is_held_out(i, 0.05)]
    train = sorted(int(i) for i in np.random.default_rng(0).choice(train, size=len(held), replace=False))
    items = {side: [dataset[i] for i in rows] for side, rows in (("train", train), ("held_out", held))}
    results = {"command": " ".join(sys.argv), "shapes": {"train": train, "held_out": held}}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        auto = Autoencoder.load(name)
        results[name] = {}
        for side, chosen in items.items():
            rows = [band_scores(auto, item) for item in chosen]
            results[name][side] = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
            print(f"{name} {side} ({len(rows)}): {results[name][side]}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
