"""`kiln-backend train vae|flow|export`: train the learned shape model.

The same command runs in one process or under ``torchrun --nproc_per_node N -m backend train ...``
(data-parallel; rank 0 writes). Runs resume from ``OUT/last.*`` unless ``--no-resume``.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the shape VAE or flow transformer",
                                   description="Train the learned shape model on a procedural dataset.")
    targets = parser.add_subparsers(dest="train_target", metavar="TARGET")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    from backend.train.options import FLOW_PRESETS, VAE_PRESETS, FlowTrainConfig, VAETrainConfig

    vae = targets.add_parser("vae", help="train the VAE (points -> latent tokens -> SDF)")
    vae.add_argument("--data", required=True, help="dataset folder (manifest.json + shards); several joined by commas")
    vae.add_argument("--preset", choices=sorted(VAE_PRESETS), default="s", help="model size (default: s)")
    vae.add_argument("--limit", type=int, default=None, help="use only the first N samples")
    _common(vae, VAETrainConfig)
    vae.set_defaults(func=run_vae)

    flow = targets.add_parser("flow", help="train the flow transformer on a trained VAE's latents")
    flow.add_argument("--data", required=True, help="procedural dataset folder")
    flow.add_argument("--vae", required=True, help="VAE checkpoint stem, e.g. runs/vae/best")
    flow.add_argument("--preset", choices=sorted(FLOW_PRESETS), default="s", help="model size (default: s)")
    _common(flow, FlowTrainConfig)
    flow.set_defaults(func=run_flow)

    export = targets.add_parser("export", help="combine VAE + flow checkpoints into one model")
    export.add_argument("--vae", required=True, help="VAE checkpoint stem (runs/vae/best)")
    export.add_argument("--flow", required=True, help="flow checkpoint stem (runs/flow/best)")
    export.add_argument("-o", "--out", required=True, help="output stem, e.g. backend/weights/kiln-shape-s")
    export.add_argument("--name", default=None, help="model name (default: the output file name)")
    export.add_argument("--description", default="", help="one line on what the model is and was trained on")
    export.add_argument("--level", type=float, default=0.0,
                        help="iso-level of the decoded SDF used for extraction (calibrated on held-out shapes)")
    export.set_defaults(func=run_export)

    export_vae = targets.add_parser("export-vae", help="a VAE checkpoint alone as a named model (not a generator)")
    export_vae.add_argument("--vae", required=True, help="VAE checkpoint stem (runs/vae/best)")
    export_vae.add_argument("-o", "--out", required=True, help="output stem, e.g. backend/weights/kiln-shape-g")
    export_vae.add_argument("--name", default=None, help="model name (default: the output file name)")
    export_vae.add_argument("--description", default="", help="one line on what the VAE is and was trained on")
    export_vae.set_defaults(func=run_export_vae)


def _common(parser: argparse.ArgumentParser, config_class) -> None:
    parser.add_argument("--out", required=True, help="run folder (checkpoints, loss.csv, loss.png)")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if OUT has a checkpoint")
    parser.add_argument("--init", default=None, help="start a new run from this checkpoint's weights (same sizes), "
                        "e.g. backend/weights/kiln-shape-s")
    for field in fields(config_class):
        kind = type(field.default)
        parser.add_argument("--" + field.name.replace("_", "-"), type=kind, default=field.default,
                            help=f"default: {field.default}")


def _config(args, config_class):
    return config_class(**{f.name: getattr(args, f.name) for f in fields(config_class)})


def _progress():
    last = [0.0]

    def report(fraction: float, stage: str, message: str = "") -> None:
        now = time.monotonic()
        if now - last[0] >= 2.0 or fraction >= 1.0:
            last[0] = now
            print(f"[{fraction * 100:5.1f}%] {stage}: {message}", flush=True)
    return report


def _threads(args) -> None:
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)


def run_vae(args) -> int:
    from backend.train.options import VAETrainConfig
    from backend.train.vae import train_vae

    _threads(args)
    try:
        summary = train_vae(args.data, args.out, args.preset, _config(args, VAETrainConfig), args.device,
                            resume=not args.no_resume, limit=args.limit, progress=_progress(),
                            init=args.init)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"done: step {summary['step']}, best held-out loss {summary['best_val']:.5f}; weights in {args.out}/best.*")
    return 0


def run_flow(args) -> int:
    from backend.train.flow import train_flow
    from backend.train.options import FlowTrainConfig

    _threads(args)
    try:
        summary = train_flow(args.data, args.vae, args.out, args.preset, _config(args, FlowTrainConfig),
                             args.device, resume=not args.no_resume, progress=_progress(), init=args.init)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"done: step {summary['step']}, best held-out loss {summary['best_val']:.5f}; weights in {args.out}/best.*")
    return 0


def run_export(args) -> int:
    from backend.models.checkpoint import CheckpointError
    from backend.train.flow import export_model

    try:
        weights, config = export_model(args.vae, args.flow, args.out, args.name, args.description, level=args.level)
    except (ValueError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) and {config}")
    return 0


def run_export_vae(args) -> int:
    from backend.models.checkpoint import CheckpointError, checkpoint_paths
    from backend.train.vae import export_vae

    try:
        weights, config = export_vae(args.vae, args.out, args.name or checkpoint_paths(args.out)[0].stem,
                                     args.description)
    except (ValueError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) and {config}")
    return 0
