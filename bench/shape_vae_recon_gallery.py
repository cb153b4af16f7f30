"""What shape VAEs make of held-out procedural shapes, side by side: one row a shape, one column
the reference then each model's reconstruction (encode 8192 surface points, decode, extract).

    .venv/bin/python bench/shape_vae_recon_gallery.py --data /work/runs/shapedata/proc280 \
        --models /work/runs/shape2/vae-final,/work/runs/shape3/g/best --labels kiln-shape-m,kiln-shape-g \
        --categories chair,table,lamp,bench,stool,fence --out bench/gallery-kiln-shape-g.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="procedural dataset (its 5% hash split is held out)")
    parser.add_argument("--models", required=True, help="checkpoint stems or model names, comma-separated")
    parser.add_argument("--labels", default="", help="column titles, comma-separated (default: the stems)")
    parser.add_argument("--categories", default="", help="one held-out shape of each (default: the first 6)")
    parser.add_argument("--resolution", type=int, default=96)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from backend.models.shape_reconstruct import Autoencoder
    from backend.train.render import render_view
    from bench.shape_vae import compare_fast, procedural_held_out

    torch.set_num_threads(1)
    names = [m for m in args.models.split(",") if m]
    labels = [x for x in args.labels.split(",") if x] or names
    shapes = procedural_held_out(args.data, 10 ** 6)
    wanted = [c for c in args.categories.split(",") if c]
    if wanted:
        shapes = [next(s for s in shapes if s[0] == c) for c in wanted if any(s[0] == c for s in shapes)]
    shapes = shapes[:max(len(wanted), 6)]
    models = [Autoencoder.load(name) for name in names]
    fig, axes = plt.subplots(len(shapes), 1 + len(models), figsize=(2.4 * (1 + len(models)), 2.5 * len(shapes)),
                             dpi=72, squeeze=False)
    for row, (category, name, vertices, faces) in enumerate(shapes):
        cells = [("reference", vertices, faces, "")]
        for label, auto in zip(labels, models):
            try:
                out_v, out_f = auto.reconstruct(vertices, faces, args.resolution)
                score = f" F {compare_fast(out_v, out_f, vertices, faces)['fscore']:.2f}"
            except ValueError:
                out_v, out_f, score = None, None, " (empty)"
            cells.append((label, out_v, out_f, score))
        for ax, (label, v, f, score) in zip(axes[row], cells):
            ax.axis("off")
            ax.set_title(f"{name}: {label}{score}", fontsize=7)
            if v is not None:
                image = render_view(np.asarray(v, dtype=np.float64), f, azimuth=35, elevation=20, size=160)
                ax.imshow(np.where(image[..., 3:] > 0, image[..., :3], 255))
        print(name, [c[3] for c in cells[1:]], flush=True)
    fig.tight_layout()
    fig.savefig(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
