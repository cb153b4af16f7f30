"""Can a shape VAE fit ONE shape, and how much does its latent noise slow that down?

    .venv/bin/python bench/shape_vae_overfit.py --data /work/runs/shapedata/proc280 \
        --model /work/runs/shapedata/vae-m/best --index 9 --steps 200

Fine-tunes a copy of the VAE on a single procedural sample (batch 4, the training loss of
``kiln-backend train vae`` with ``--sign-weight 0.05``, lr 3e-4) twice: once decoding a latent
drawn from the posterior, as training does (the KL term keeps that noise large), once decoding the
posterior mean. Every 50 steps it prints the sign accuracy per near-surface band
(``bench/shape_vae_bands.py``) and the mean posterior standard deviation. If the mean-latent copy
fits much faster, the latent noise (KL weight) holds the VAE back; if neither fits, the decoder
is too small.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True, help="VAE checkpoint stem or registered model")
    parser.add_argument("--index", type=int, default=9, help="dataset sample to fit (9: a chair in proc280)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--kl-weight", type=float, default=1e-3)
    args = parser.parse_args()

    import torch

    from backend.models.shape_reconstruct import Autoencoder
    from backend.train.data import load_shapes, open_dataset, vae_batch
    from backend.train.options import VAETrainConfig
    from backend.train.vae import vae_loss
    from shape_vae_bands import BANDS, band_scores

    torch.set_num_threads(1)
    dataset = open_dataset(args.data)
    item, shapes = dataset[args.index], load_shapes(dataset, [args.index])
    base = Autoencoder.load(args.model)
    config = VAETrainConfig(kl_weight=args.kl_weight, sign_weight=0.05)
    print(f"sample {args.index}: {item['category']}")

    def report(auto, label, step, started):
        auto.vae.eval()
        scores = band_scores(auto, item)
        with torch.no_grad():
            points = torch.from_numpy(np.asarray(item["surface_points"][:4096], dtype=np.float32))[None]
            normals = torch.from_numpy(np.asarray(item["surface_normals"][:4096], dtype=np.float32))[None]
            std = auto.vae.encode(points, normals)[1].mul(0.5).exp().mean().item()
        auto.vae.train()
        signs = ", ".join(f"{band} {scores['sign@' + band]:.3f}" for band in BANDS)
        print(f"{label} step {step}: sign accuracy {signs}; posterior std {std:.3f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)

    for label, sample in (("posterior sample", True), ("posterior mean", False)):
        auto = copy.deepcopy(base)
        auto.vae.train()
        optimizer = torch.optim.AdamW(auto.vae.parameters(), lr=3e-4, weight_decay=0.01, betas=(0.9, 0.99))
        rng, generator, started = np.random.default_rng(0), torch.Generator().manual_seed(0), time.perf_counter()
        report(auto, label, 0, started)
        for step in range(1, args.steps + 1):
            batch = vae_batch(shapes, np.zeros(4, dtype=int), rng, 1024, 512, 256, 128)
            loss, _ = vae_loss(auto.vae, batch, config, generator, sample=sample)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(auto.vae.parameters(), 1.0)
            optimizer.step()
            if step % 50 == 0:
                report(auto, label, step, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
