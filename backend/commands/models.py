"""`kiln-backend models`: list the models this install knows (embedded and in --models)."""
from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list available models",
                                   description="List the models in the registry: embedded defaults and the "
                                               "checkpoints found in --models.")
    parser.add_argument("--models", type=Path, default=None, help="folder with extra model checkpoints")
    parser.set_defaults(func=run)


def run(args) -> int:
    from backend.models.registry import configure

    registry = configure(args.models, "cpu")
    entries = registry.entries()
    if not entries:
        print("no models registered")
        return 0
    defaults = {registry.default_name(e.capability) for e in entries}
    for entry in entries:
        mark = " (default)" if entry.name in defaults else ""
        weights = entry.weights.name if entry.weights else "no weights file"
        print(f"{entry.name}{mark}  [{entry.capability}; {', '.join(entry.conditioning) or '-'}; {weights}]")
        print(f"    {entry.description}")
        print(f"    license: {entry.license}")
    return 0
