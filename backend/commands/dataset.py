"""`kiln-backend dataset procedural|gallery`: write the procedural training set, or draw a gallery."""
from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("dataset", help="build training data from the procedural asset engine")
    sub = parser.add_subparsers(dest="dataset_command", metavar="KIND", required=True)

    proc = sub.add_parser("procedural", help="write safetensors shards of procedural assets")
    proc.add_argument("--out", required=True, help="output folder (must not hold a dataset yet)")
    proc.add_argument("--count", type=int, required=True, help="number of samples")
    proc.add_argument("--seed", type=int, default=0, help="dataset seed (same seed, same data)")
    proc.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    proc.add_argument("--samples-per-shard", type=int, default=64)
    proc.add_argument("--categories", default="", help="comma-separated subset (default: all)")
    proc.add_argument("--resolution", type=int, default=128, help="marching-cubes cells per axis")
    proc.add_argument("--surface", type=int, default=8192, help="surface points per sample")
    proc.add_argument("--near", type=int, default=8192, help="near-surface SDF samples per sample")
    proc.add_argument("--far", type=int, default=4096, help="uniform SDF samples per sample")
    proc.add_argument("--no-glb", action="store_true", help="skip the GLB copy of the artist mesh")
    proc.set_defaults(func=run_procedural)

    meshes = sub.add_parser("meshes", help="write signed-distance samples of installed package meshes "
                            "(0ad-data, supertuxkart-data, pybullet_data, pymeshlab)")
    meshes.add_argument("--out", required=True, help="output folder (must not hold a dataset yet)")
    meshes.add_argument("--split", choices=("train", "held_out"), default="train",
                        help="which side of the fixed hash split (held_out: for evaluation only)")
    meshes.add_argument("--per-source", default="0ad=200,supertuxkart=60,pybullet_data=60,pymeshlab=7",
                        help="meshes per source, e.g. 0ad=200,supertuxkart=60")
    meshes.add_argument("--resolution", type=int, default=96, help="grid cells per axis of the solidified field")
    meshes.set_defaults(func=run_meshes)

    gallery = sub.add_parser("gallery", help="render one asset per category into a PNG grid")
    gallery.add_argument("--out", required=True, help="PNG path")
    gallery.add_argument("--seed", type=int, default=0)
    gallery.add_argument("--columns", type=int, default=7)
    gallery.add_argument("--per-category", type=int, default=1)
    gallery.set_defaults(func=run_gallery)


def run_procedural(args: argparse.Namespace) -> int:
    from backend.procedural.dataset import write_dataset
    from backend.procedural.sample import SampleConfig

    config = SampleConfig(surface=args.surface, near=args.near, far=args.far, resolution=args.resolution,
                          glb=not args.no_glb)
    chosen = [c.strip() for c in args.categories.split(",") if c.strip()] or None

    def report(done: int, total: int, seconds: float) -> None:
        print(f"{done}/{total} samples, {done / max(seconds, 1e-9):.2f} samples/s", flush=True)

    try:
        manifest = write_dataset(args.out, args.count, seed=args.seed, workers=args.workers,
                                 samples_per_shard=args.samples_per_shard, categories=chosen, config=config,
                                 progress=report)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rate = manifest["count"] / max(manifest["seconds"], 1e-9)
    print(f"wrote {manifest['count']} samples in {len(manifest['shards'])} shards to {args.out} "
          f"({rate:.2f} samples/s, {args.workers} workers)")
    return 0


def run_meshes(args: argparse.Namespace) -> int:
    from backend.datasets.mesh_dataset import write_package_dataset
    from backend.datasets.solidify import SolidConfig

    try:
        per_source = {k.strip(): int(v) for k, v in (item.split("=") for item in args.per_source.split(",") if item)}
        manifest = write_package_dataset(args.out, args.split, per_source, SolidConfig(resolution=args.resolution),
                                         progress=lambda d, t, s: print(f"{d}/{t} meshes, {s:.0f} s", flush=True))
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {manifest['count']} samples ({manifest['counts']}) to {args.out}; "
          f"skipped {len(manifest['skipped'])}")
    return 0


def run_gallery(args: argparse.Namespace) -> int:
    from backend.procedural.gallery import render_gallery

    path = render_gallery(args.out, seed=args.seed, columns=args.columns, per_category=args.per_category,
                          progress=lambda i, n: print(f"{i}/{n}", end="\r", flush=True))
    print(f"\nwrote {path}")
    return 0
