"""A contact sheet of the parts op on held-out procedural objects (asset seed 0, never trained on):
each marching-cubes mesh coloured by the parts the op's default (``auto``) found, titled with
the path that ran (model, hybrid = geometric parts named by the model, geometric) and the part names.

    nice -n 10 .venv/bin/python bench/parts_gallery.py --out bench/gallery-kiln-parts-s.png
    nice -n 10 .venv/bin/python bench/parts_gallery.py --objects door,wardrobe,shield,... --out PNG
"""
from __future__ import annotations

import argparse
import colorsys
import dataclasses
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.ops import parts  # noqa: E402
from backend.procedural.gallery import rasterize  # noqa: E402
from backend.procedural.meshing import watertight_mesh  # noqa: E402
from backend.procedural.registry import generate  # noqa: E402
from backend.runtime import CancelToken  # noqa: E402
from shared.payload import Material, MeshPayload  # noqa: E402

OBJECTS = ("chair", "table", "armchair", "sword", "mug", "bookshelf", "cabinet", "lamp", "bed", "stool")


def coloured(mesh: MeshPayload) -> MeshPayload:
    count = len(mesh.part_names)
    materials = [Material(name=n, base_color=(*colorsys.hsv_to_rgb((0.13 + i * 0.618034) % 1.0, 0.6, 0.9), 1.0))
                 for i, n in enumerate(mesh.part_names)]
    return dataclasses.replace(mesh, materials=materials, part_materials=list(range(count)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/gallery-kiln-parts-s.png")
    parser.add_argument("--resolution", type=int, default=48)
    parser.add_argument("--objects", default=",".join(OBJECTS), help="comma list of categories (seed 0 each)")
    args = parser.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objects = [o for o in args.objects.split(",") if o]
    rows = (len(objects) + 4) // 5
    fig, axes = plt.subplots(rows, 5, figsize=(15, 3.7 * rows), squeeze=False)
    for ax in axes.flat[len(objects):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, objects):
        vertices, faces, _ = watertight_mesh(generate(name, 0), args.resolution)
        mesh = MeshPayload.from_triangles(vertices, faces)
        out = parts.run({"mesh": mesh}, {"num_parts": 0, "method": "auto", "from_job": "", "merge": ""},
                        lambda *a: None, CancelToken())["mesh"]
        info = out.info["parts"]
        ax.imshow(rasterize(coloured(out), size=320), interpolation="lanczos")
        ax.axis("off")
        path = info.get("path", "geometric")
        how = f"{path} {info['confidence']:.2f}" if path in ("model", "hybrid") else path
        label = f"{name}0 ({how}): " + ", ".join(out.part_names)
        ax.set_title("\n".join(textwrap.wrap(label, 44)[:4]), fontsize=7)
        print(label, flush=True)
    fig.suptitle("kiln-parts-s through the parts op (auto) on held-out procedural meshes; colour = part", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
