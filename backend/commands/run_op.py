"""`kiln-backend generate|retopo|parts|texture`: run one op locally on files, no server.

The flags are the op's ``params_schema()`` in kebab-case, the same as for ``submit``. The op
module is imported only when its command runs (ops may import torch), so ``kiln-backend --help``
stays fast; ``kiln-backend retopo --help`` lists the op's own flags.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from shared.payload import ImagePayload, MeshPayload
from shared.png import encode_png
from shared.protocol import ParamSpec

OPS = {"generate": "generate an asset from a prompt and/or an image",
       "retopo": "retopologize a mesh (quad, low-poly or triangle)",
       "parts": "split a mesh into named parts",
       "texture": "texture a mesh from a prompt and/or an image"}


def register(subparsers) -> None:
    for name, summary in OPS.items():
        parser = subparsers.add_parser(name, help=f"{summary} (local, no server)", add_help=False, prefix_chars="+",
                                       description=f"{summary}. Run `kiln-backend {name} --help` for its flags.")
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(func=run, op_name=name)


# ------------------------------------------------------------------------------------------------
# Shared with `submit`: flags from parameter schemas, inputs from files, outputs to files, progress.

def flag(name: str) -> str:
    """The CLI flag of a parameter name: target_faces -> --target-faces."""
    return "--" + name.replace("_", "-")


def add_param_flags(parser: argparse.ArgumentParser, specs: list[ParamSpec]) -> None:
    """One flag per parameter; defaults stay None so the op (or server) applies its own."""
    for spec in specs:
        bits = [spec.help] if spec.help else []
        if spec.default is not None:
            bits.append(f"default: {spec.default}")
        if spec.minimum is not None or spec.maximum is not None:
            bits.append(f"range: {spec.minimum if spec.minimum is not None else ''}.."
                        f"{spec.maximum if spec.maximum is not None else ''}")
        help_text = "; ".join(bits).replace("%", "%%")  # argparse %-formats help strings
        kwargs = {"dest": f"param_{spec.name}", "default": None, "help": help_text or None}
        if spec.type == "bool":
            parser.add_argument(flag(spec.name), action=argparse.BooleanOptionalAction, **kwargs)
        elif spec.type == "choice":
            parser.add_argument(flag(spec.name), choices=[str(c) for c in spec.choices], **kwargs)
        else:
            parser.add_argument(flag(spec.name), type={"int": int, "float": float}.get(spec.type, str),
                                metavar=spec.type.upper(), **kwargs)


def add_input_flags(parser: argparse.ArgumentParser, inputs: dict[str, dict]) -> None:
    """The main mesh is a positional file; other inputs are --NAME FILE."""
    for name, spec in inputs.items():
        help_text = (f"{spec.get('kind')} file" + (f": {spec['help']}" if spec.get("help") else "")).replace("%", "%%")
        if name == "mesh":
            parser.add_argument("input_mesh", metavar="MESH", nargs=None if spec.get("required", True) else "?",
                                type=Path, help=help_text + " (GLB/glTF/OBJ/PLY/OFF/STL)")
        else:
            parser.add_argument(flag(name), dest=f"input_{name}", type=Path, metavar="FILE",
                                required=spec.get("required", True), help=help_text)


def collect_params(args: argparse.Namespace, specs: list[ParamSpec]) -> dict:
    return {s.name: getattr(args, f"param_{s.name}") for s in specs if getattr(args, f"param_{s.name}") is not None}


def load_inputs(args: argparse.Namespace, inputs: dict[str, dict]) -> dict:
    from backend.meshio import read_image, read_mesh

    loaded = {}
    for name, spec in inputs.items():
        path = getattr(args, "input_mesh" if name == "mesh" else f"input_{name}", None)
        if path is not None:
            loaded[name] = read_mesh(path) if spec.get("kind") == "mesh" else read_image(path)
    return loaded


def write_outputs(output: Path, outputs: dict) -> list[Path]:
    """The main mesh goes to ``output``; other outputs beside it as OUTPUT-stem_NAME.ext."""
    from backend.meshio import write_mesh

    written = []
    for name, item in outputs.items():
        if isinstance(item, MeshPayload):
            path = output if name == "mesh" else output.with_name(f"{output.stem}_{name}{output.suffix}")
            written.append(write_mesh(path, item))
        elif isinstance(item, ImagePayload):
            path = output.with_name(f"{output.stem}_{name}.png")
            path.write_bytes(encode_png(item.pixels))
            written.append(path)
    return written


class ProgressBar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last = ("", -1.0)
        self._last_print = 0.0
        self._start = time.monotonic()

    def __call__(self, fraction: float, stage: str, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        if not self.tty and stage == self._last[0] and fraction - self._last[1] < 0.1 and now - self._last_print < 5:
            return
        filled = int(round(fraction * self.width))
        line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:5.1f}% {now - self._start:4.0f}s "
                f"{stage}" + (f": {message}" if message else ""))
        self.stream.write(("\r" + line[:120].ljust(120)) if self.tty else line + "\n")
        self.stream.flush()
        self._last, self._last_print = (stage, fraction), now

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def op_parser(prog: str, description: str, specs: list[ParamSpec], inputs: dict[str, dict]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_input_flags(parser, inputs)
    parser.add_argument("-o", "--output", type=Path, required=True, help="output file: .glb, .obj or .ply")
    add_param_flags(parser, specs)
    return parser


# ------------------------------------------------------------------------------------------------

def run(args) -> int:
    from backend.meshio import WRITE_FORMATS, MeshIOError
    from backend.ops import load_op
    from backend.runtime import CancelToken, OpError
    from shared.protocol import ProtocolError, validate_params

    try:
        module = load_op(args.op_name)
    except ModuleNotFoundError as exc:
        print(f"kiln-backend {args.op_name}: this op is not installed ({exc})", file=sys.stderr)
        return 2
    ok, reason = module.available()
    specs = module.params_schema()
    inputs = {k: v.to_json() for k, v in module.INPUTS.items()}
    parser = op_parser(f"kiln-backend {args.op_name}", module.SUMMARY, specs, inputs)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default: CUDA when present)")
    parser.add_argument("--models", type=Path, default=None, help="folder with extra model checkpoints")
    op_args = parser.parse_args(args.rest)
    if not ok:
        print(f"kiln-backend {args.op_name}: not available here: {reason}", file=sys.stderr)
        return 2
    if op_args.output.suffix.lower() not in WRITE_FORMATS:
        parser.error(f"--output must end in one of {', '.join(WRITE_FORMATS)}")
    from backend.models.device import pick_device
    from backend.models.registry import configure

    bar = ProgressBar()
    try:
        configure(op_args.models, pick_device(op_args.device))
        params = validate_params(specs, collect_params(op_args, specs))
        loaded = load_inputs(op_args, inputs)
        outputs = module.run(loaded, params, bar, CancelToken())
    except KeyboardInterrupt:
        bar.close()
        print("cancelled", file=sys.stderr)
        return 130
    except (MeshIOError, OpError, ValueError) as exc:
        bar.close()
        print(f"kiln-backend {args.op_name}: {exc}", file=sys.stderr)
        return 1
    except ProtocolError as exc:
        bar.close()
        print(f"kiln-backend {args.op_name}: {exc.message}", file=sys.stderr)
        return 1
    bar.close()
    for path in write_outputs(op_args.output, outputs):
        print(f"wrote {path}")
    print_outcome(outputs)
    return 0


def print_outcome(outputs: dict) -> None:
    """Say what made the result (info ``summary``) and any ``warning`` the op gave about it."""
    for payload in outputs.values():
        info = getattr(payload, "info", None) or {}
        if info.get("summary"):
            print(f"made: {info['summary']}")
        if info.get("warning"):
            print(f"warning: {info['warning']}", file=sys.stderr)
