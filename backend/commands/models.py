"""`kiln-backend models`: list the models this install knows (embedded and in --models), each with
the first lines of its model card (title, summary), its licence and where the card is;
`models import FOLDER` checks/converts a published model folder."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

WIDTH = 100


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list available models, or import a published model folder",
                                   description="List the models in the registry: embedded defaults and the "
                                               "checkpoints found in --models. 'models import FOLDER' checks a "
                                               "TripoSG or Hunyuan3D-2.1 folder against its config and converts a "
                                               "Hunyuan .ckpt to safetensors (read with torch weights_only).")
    parser.add_argument("--models", type=Path, default=None, help="folder with extra model checkpoints")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    importer = actions.add_parser("import", help="check a published model folder; convert .ckpt to safetensors")
    importer.add_argument("folder", type=Path, help="a TripoSG folder, or Hunyuan3D-2.1 (or its hunyuan3d-dit-v2-1)")
    parser.set_defaults(func=run)


def run(args) -> int:
    if getattr(args, "action", None) == "import":
        return run_import(args.folder)
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
        if "vram_gib" in entry.extra:
            print(f"    memory: ~{entry.extra['vram_gib']} GiB at fp16 on CUDA (estimate)")
    return 0


def run_import(folder: Path) -> int:
    from backend.models.published.convert import import_folder
    from backend.runtime import OpError

    try:
        lines = import_folder(folder)
    except OpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
