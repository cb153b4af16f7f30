"""`kiln-backend eval vae DIR`: how well the shape VAE reconstructs surfaces.

DIR is a procedural dataset (its held-out split is scored against the samples' exact surfaces)
or a folder of mesh files (each one scored against itself). Reports F-score at 0.02 (shapes
scaled into [-1, 1]), Chamfer distance and normal consistency per shape and on average.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from backend.commands.eval_group import eval_subcommands


def register(subparsers) -> None:
    parser = eval_subcommands(subparsers).add_parser(
        "vae", help="F-score / Chamfer / normal consistency of VAE reconstructions",
        description="Encode and decode every shape with the VAE and compare the result with the input surface.")
    parser.add_argument("dir", type=Path, help="procedural dataset folder or folder of mesh files")
    parser.add_argument("--model", default="kiln-shape-s",
                        help="model name, kiln-shape checkpoint stem or `train vae` run stem (default: kiln-shape-s)")
    parser.add_argument("--models", type=Path, default=None, help="folder with extra model checkpoints")
    parser.add_argument("--all", action="store_true", help="dataset: score every sample, not only held-out ones")
    parser.add_argument("--held-out", type=float, default=0.05, help="held-out fraction used in training")
    parser.add_argument("--limit", type=int, default=None, help="score at most N shapes")
    parser.add_argument("--resolution", type=int, default=128, help="extraction cells per axis (default 128)")
    parser.add_argument("--tau", type=float, default=0.02, help="F-score threshold in [-1,1] units (default 0.02)")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores as JSON here")
    parser.add_argument("--level", type=float, default=None,
                        help="iso-level of the decoded SDF (default: the model's calibrated level, else 0)")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto")
    parser.set_defaults(func=run)


def shapes_to_score(folder: Path, everything: bool, held_out: float, limit: int | None):
    """Yield (name, vertices, triangles) of the reference shapes in ``folder``."""
    from backend.meshio import READ_FORMATS, read_mesh
    from backend.models.shape_reconstruct import triangles_of

    if (folder / "manifest.json").is_file():
        from backend.train.data import is_held_out, open_dataset
        dataset = open_dataset(folder)
        chosen = [i for i in range(len(dataset)) if everything or is_held_out(i, held_out)]
        for index in chosen[:limit]:
            item = dataset[index]
            yield f"{index:05d}-{item['category']}", item["mesh_vertices"], item["mesh_faces"]
        return
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in READ_FORMATS)
    if not files:
        raise ValueError(f"{folder} holds neither a dataset (manifest.json) nor mesh files")
    for path in files[:limit]:
        vertices, faces = triangles_of(read_mesh(path))
        yield path.stem, vertices, faces


def run(args) -> int:
    from backend.meshio import MeshIOError
    from backend.models.checkpoint import CheckpointError
    from backend.models.device import pick_device
    from backend.models.shape_reconstruct import Autoencoder
    from backend.train.shape_metrics import compare_surfaces

    if not args.dir.is_dir():
        print(f"error: {args.dir} is not a folder", file=sys.stderr)
        return 1
    try:
        auto = Autoencoder.load(args.model, args.models, pick_device(args.device))
        if args.level is not None:
            auto.level = args.level
        rows = []
        for name, vertices, faces in shapes_to_score(args.dir, args.all, args.held_out, args.limit):
            start = time.perf_counter()
            out_v, out_f = auto.reconstruct(vertices, faces, args.resolution)
            scores = compare_surfaces(out_v, out_f, vertices, faces, tau=args.tau).as_dict()
            rows.append({"shape": name, **scores, "seconds": round(time.perf_counter() - start, 2)})
            print(f"{name:32s} F@{args.tau}={scores['fscore']:.3f}  chamfer={scores['chamfer']:.4f}  "
                  f"normal={scores['normal_consistency']:.3f}", flush=True)
    except (MeshIOError, CheckpointError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not rows:
        print("error: no shapes to score", file=sys.stderr)
        return 1
    mean = {k: round(sum(r[k] for r in rows) / len(rows), 4)
            for k in ("fscore", "precision", "recall", "chamfer", "normal_consistency")}
    print(f"{'mean of ' + str(len(rows)):32s} F@{args.tau}={mean['fscore']:.3f}  chamfer={mean['chamfer']:.4f}  "
          f"normal={mean['normal_consistency']:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "dir": str(args.dir), "tau": args.tau,
                                         "resolution": args.resolution, "mean": mean, "shapes": rows}, indent=1))
    return 0
