"""`kiln-backend serve`: run the job server (loopback by default; CURVE keys for anything else)."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from pathlib import Path

from shared.protocol import DEFAULT_ADDRESS, DEFAULT_LIMITS, Limits

DEFAULT_STORE = Path(os.environ.get("KILN_STORE", Path.home() / ".kiln" / "store"))


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the backend job server",
                                   description="Run the Kiln backend: a ZeroMQ job server for Blender and scripts.")
    parser.add_argument("--bind", default=DEFAULT_ADDRESS,
                        help=f"address to listen on (default {DEFAULT_ADDRESS}; port 0 picks a free port)")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help=f"job store folder (default {DEFAULT_STORE})")
    parser.add_argument("--models", type=Path, default=None, help="folder with extra model checkpoints")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: CUDA when present)")
    parser.add_argument("--curve-keys", type=Path, default=None, metavar="DIR",
                        help="CurveZMQ keys folder from `kiln-backend keys DIR` (required for non-loopback binds)")
    parser.add_argument("--ops", default="all", metavar="LIST",
                        help="comma-separated ops to serve, e.g. retopo,parts for a CPU box (default: all that "
                             "are available; 'none' for none)")
    parser.add_argument("--cpu-workers", type=int, default=2, help="parallel geometry jobs (default 2)")
    parser.add_argument("--keep-days", type=float, default=None, metavar="DAYS",
                        help="delete finished jobs older than this, checked hourly (default: keep everything)")
    parser.add_argument("--max-message-mb", type=float, default=DEFAULT_LIMITS.max_total_bytes / 2**20,
                        help="largest request accepted, in MiB (default %(default).0f)")
    parser.add_argument("--ready-file", type=Path, default=None,
                        help="write the bound address to this file once serving (for scripts)")
    parser.add_argument("--extra-op-module", action="append", default=[], metavar="MODULE",
                        help=argparse.SUPPRESS)  # test seam: load an extra op module (tests only)
    parser.set_defaults(func=run)


def _setup_logging(store: Path) -> Path:
    store.mkdir(parents=True, exist_ok=True)
    log_file = store / "kiln-backend.log"
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in (logging.FileHandler(log_file), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    return log_file


def _op_names(value: str) -> list[str] | None:
    from backend.ops import OP_MODULES

    if value == "all":
        return None
    names = [] if value == "none" else [n.strip() for n in value.split(",") if n.strip()]
    unknown = sorted(set(names) - set(OP_MODULES))
    if unknown:
        raise ValueError(f"--ops: unknown op(s) {', '.join(unknown)}; choose from {', '.join(OP_MODULES)}")
    return names


def run(args) -> int:
    from backend.models.device import pick_device
    from backend.models.registry import configure
    from backend.ops import available_ops
    from backend.server import CurveConfig, Server
    from backend.store import JobStore

    try:
        log_file = _setup_logging(args.store)
    except OSError as exc:
        print(f"kiln-backend serve: cannot use store folder {args.store}: {exc}", file=sys.stderr)
        return 2
    log = logging.getLogger("kiln.serve")
    try:
        device = "cpu" if args.device == "cpu" else pick_device(args.device)  # "cpu" needs no torch import
        curve = CurveConfig(args.curve_keys) if args.curve_keys else None
        registry = configure(args.models, device)
        ops = available_ops(_op_names(args.ops))
        for module_name in args.extra_op_module:
            module = importlib.import_module(module_name)
            ops[module.NAME] = module
        limits = Limits(max_total_bytes=int(args.max_message_mb * 2**20))
        server = Server(args.bind, JobStore(args.store), ops, registry=registry, device=device, curve=curve,
                        limits=limits, cpu_workers=args.cpu_workers, keep_days=args.keep_days)
        address = server.start()
    except (ValueError, OSError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    signal.signal(signal.SIGINT, lambda *_: server.stop())
    signal.signal(signal.SIGHUP, lambda *_: server.reload_keys())
    log.info("Kiln backend listening on %s | device %s | ops: %s | models: %s | store %s | log %s | curve %s",
             address, device, ", ".join(sorted(ops)) or "none", ", ".join(e.name for e in registry.entries()) or "none",
             args.store, log_file, "on" if curve else "off (loopback only)")
    if args.ready_file:
        args.ready_file.write_text(address)
    server.serve_forever()
    return 0
