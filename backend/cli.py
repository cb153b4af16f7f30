"""`kiln-backend`: the command line. Each sub-command lives in a module of ``backend/commands/``.

A command module defines ``register(subparsers)`` which adds its parser(s) and sets
``func=<callable(args) -> int>`` as the parser default. Modules are discovered, so adding a
command never means editing this file.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from backend import commands


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every discovered command."""
    parser = argparse.ArgumentParser(prog="kiln-backend", description="Kiln backend: serve jobs, run ops, train models.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
