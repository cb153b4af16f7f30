"""`kiln-backend models`: list the models this install knows (embedded and in --models), each with
the first lines of its model card (title, summary), its licence and where the card is."""
from __future__ import annotations

import textwrap
from pathlib import Path

WIDTH = 100


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
        card = entry.card_info
        if card is not None:
            print(f"    {card.title}")
            for line in textwrap.wrap(card.summary, WIDTH - 4, break_on_hyphens=False):
                print(f"    {line}")
        else:
            print(f"    {entry.description}")
        print(f"    license: {entry.license}")
        print(f"    card: {card.path if card else 'none'}")
    return 0
