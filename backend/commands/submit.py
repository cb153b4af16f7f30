"""`kiln-backend submit --connect ADDR <op> ...`: run one op through a backend and wait for it.

The op's flags come from the server's welcome (its parameter schemas), so they always match what
that server offers. Progress is shown as a bar; Ctrl-C cancels the job on the server.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from backend.commands.run_op import (ProgressBar, collect_params, load_inputs, op_parser, print_outcome,
                                      write_outputs)
from shared.protocol import DEFAULT_ADDRESS, ParamSpec


def _default_client_name() -> str:
    """cli:user@host, so each person's command-line jobs share one fair-queue slot."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    return f"cli:{user}@{socket.gethostname()}"[:100]


def register(subparsers) -> None:
    parser = subparsers.add_parser("submit", help="run an op through a running backend",
                                   description="Submit one job to a Kiln backend, show its progress, write its "
                                               "result. `kiln-backend submit --connect ADDR OP --help` lists the "
                                               "op's flags as that server defines them.")
    parser.add_argument("--connect", default=DEFAULT_ADDRESS, help=f"backend address (default {DEFAULT_ADDRESS})")
    parser.add_argument("--curve-keys", type=Path, default=None, metavar="DIR",
                        help="client key bundle from `kiln-backend keys` (for a CURVE-protected server)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each reply (default 30)")
    parser.add_argument("--client-name", default=_default_client_name(),
                        help="name under which the job is listed and queued; the server shares its time fairly "
                             "between names (default: %(default)s)")
    parser.add_argument("op", help="op name (generate, retopo, parts, texture, ...)")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="the op's inputs and flags")
    parser.set_defaults(func=run)


def run(args) -> int:
    from backend.meshio import WRITE_FORMATS, MeshIOError
    from shared.client import Client, KilnError, load_curve_keys

    curve = load_curve_keys(args.curve_keys) if args.curve_keys else None
    client = Client(args.connect, timeout=args.timeout, curve=curve, client_name=args.client_name)
    try:
        welcome = client.connect()
        ops = welcome.get("ops", {})
        if args.op not in ops:
            print(f"kiln-backend submit: the backend at {args.connect} has no op {args.op!r}; it offers: "
                  f"{', '.join(sorted(ops)) or 'none'}", file=sys.stderr)
            return 2
        spec = ops[args.op]
        specs = [ParamSpec.from_json(p) for p in spec.get("params", [])]
        parser = op_parser(f"kiln-backend submit {args.op}", spec.get("summary", ""), specs, spec.get("inputs", {}))
        op_args = parser.parse_args(args.rest)
        if op_args.output.suffix.lower() not in WRITE_FORMATS:
            parser.error(f"--output must end in one of {', '.join(WRITE_FORMATS)}")
        inputs = load_inputs(op_args, spec.get("inputs", {}))
        bar = ProgressBar()
        # Ctrl-C while submitting is held until the job id is known, so the job can be cancelled.
        interrupted: list[bool] = []
        previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
        try:
            try:
                job = client.submit(args.op, collect_params(op_args, specs), inputs)
            finally:
                signal.signal(signal.SIGINT, previous)
            if interrupted:
                raise KeyboardInterrupt
            print(f"job {job} accepted by {args.connect}", file=sys.stderr)
            outputs = client.wait(job, on_progress=lambda h: bar(h.get("fraction", 0), h.get("stage", ""),
                                                                 h.get("message", "")))
        except KeyboardInterrupt:
            bar.close()
            print(f"cancelling job {job} ...", file=sys.stderr)
            client.cancel(job)
            return 130
        bar.close()
        for path in write_outputs(op_args.output, outputs):
            print(f"wrote {path}")
        print_outcome(outputs)
        return 0
    except KilnError as exc:
        print(f"kiln-backend submit: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except MeshIOError as exc:
        print(f"kiln-backend submit: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
