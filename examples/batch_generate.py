"""Generate assets with Kiln from the command line and save them in a .blend.

    blender -b --python examples/batch_generate.py -- --prompt "a chair" --out chair.blend
    blender -b --python examples/batch_generate.py -- --prompt "a chair" --prompt "a table" \
        --seeds 3 --retopo 2000 --address tcp://127.0.0.1:5555 --out furniture.blend

Needs the Kiln extension installed in that Blender and a running backend (``kiln-backend serve``).
Run on Blender's startup file it starts from an empty scene; run as ``blender -b scene.blend
--python ...`` it adds to that scene. Every prompt x seed becomes one object, laid out in a row; ``--retopo`` also rebuilds each one as
a quad mesh (the generated original is kept, hidden). Exit status 1 if any job failed.
"""
from __future__ import annotations

import argparse
import sys

import bpy
import addon_utils  # after bpy: also works with bpy as a Python module


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="blender -b --python batch_generate.py --",
                                     description="Generate assets with Kiln and save them to a .blend file.")
    parser.add_argument("--prompt", action="append", required=True, help="what to make (repeatable)")
    parser.add_argument("--seeds", type=int, default=1, help="variations per prompt (seeds 0..N-1)")
    parser.add_argument("--model", default="", help="model name (default: the backend's default)")
    parser.add_argument("--quality", choices=("DRAFT", "STANDARD", "HIGH"), default="STANDARD")
    parser.add_argument("--retopo", type=int, default=0, metavar="FACES",
                        help="also retopologize each result to about this many quad faces")
    parser.add_argument("--address", default="", help="backend address (default: the add-on preference)")
    parser.add_argument("--spacing", type=float, default=2.5, help="metres between results")
    parser.add_argument("--out", required=True, help="the .blend file to write")
    return parser.parse_args(argv)


def enable_kiln() -> str:
    """Enable the Kiln extension from whichever repository it was installed into; return its module."""
    candidates = [f"bl_ext.{repo.module}.kiln" for repo in bpy.context.preferences.extensions.repos]
    for module in candidates:
        if module in bpy.context.preferences.addons:
            return module
    for module in candidates:
        if addon_utils.enable(module, default_set=True, handle_error=lambda exc: None) is not None:
            return module
    sys.exit("Kiln is not installed in this Blender: Edit > Preferences > Get Extensions > Install from Disk")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not bpy.data.filepath:  # the startup file, not the user's .blend: drop its cube, camera and light
        bpy.ops.wm.read_homefile(use_empty=True)
    module = enable_kiln()
    prefs = bpy.context.preferences.addons[module].preferences
    if args.address:
        prefs.address = args.address
    failed = 0
    slot = 0
    for prompt in args.prompt:
        for seed in range(args.seeds):
            bpy.context.scene.cursor.location = (slot * args.spacing, 0.0, 0.0)
            slot += 1
            try:
                bpy.ops.kiln.generate(prompt=prompt, seed=seed, model=args.model, quality=args.quality, wait=True)
                if args.retopo:
                    bpy.ops.kiln.retopo(target_faces=args.retopo, mode="quad", keep_original=False, wait=True)
            except RuntimeError as exc:  # the operator's error report: print it and go on
                failed += 1
                print(f"FAILED {prompt!r} seed {seed}: {str(exc).strip()}", file=sys.stderr)
                continue
            obj = bpy.context.view_layer.objects.active
            print(f"made {obj.name!r} from {prompt!r} seed {seed}: {len(obj.data.polygons) if obj.data else 0} faces")
    bpy.ops.wm.save_as_mainfile(filepath=bpy.path.abspath(args.out))
    print(f"saved {args.out} ({slot - failed} of {slot} succeeded)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []))
