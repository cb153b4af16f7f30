"""Close-up of a quad remesh's rims on a scan without and with the rim work of issue 14 item 3
(third session): rims laid along the input's boundary loops, holes smaller than a quad left closed.

    .venv/bin/python bench/quad_rim_gallery.py [--mesh scan_bunny] [--faces 2000] [--out bench/gallery-quad-rims.png]

Runs the retopo op (mode quad) twice on the corpus mesh: without (``surface_fit.RIM_ROUNDS = 0``
and ``quad_remesh.hole_floor`` giving 0: every hole is reopened and must be kept) and as
shipped; draws the quads around the rim point of the first result farthest from the input's
rims, with the input's rims in red, and prints both results' rim deviation
(``metrics.boundary_deviation``, all holes and with holes under a quad free to close).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from quad_refine_gallery import arguments, close_ups, load_repaired, remesh_with, save  # noqa: E402
from backend.geometry import quad_remesh, surface_fit  # noqa: E402
from backend.geometry.metrics import boundary_deviation  # noqa: E402
from backend.geometry.quad_gaps import hole_floor  # noqa: E402
from backend.geometry.surface_fit import boundary_curves  # noqa: E402


def without_rim_work(mesh, faces: int):
    """The op's result with the rims only projected and every hole reopened (the code before)."""
    kept = quad_remesh.hole_floor
    quad_remesh.hole_floor = lambda area, count: 0.0
    try:
        return remesh_with(mesh, faces, surface_fit, "RIM_ROUNDS", 0)
    finally:
        quad_remesh.hole_floor = kept


def main() -> int:
    args = arguments(__doc__.splitlines()[0], "scan_bunny", "gallery-quad-rims.png")
    from scipy.spatial import cKDTree

    mesh, fixed, reference = load_repaired(args.mesh)
    floor = hole_floor(fixed.area, args.faces)
    rim = fixed.vertices[boundary_curves(fixed.triangles)]
    results = {"rims projected": without_rim_work(mesh, args.faces),
               "as shipped": remesh_with(mesh, args.faces, surface_fit, "RIM_ROUNDS", surface_fit.RIM_ROUNDS)}
    before = next(iter(results.values()))
    ends = before.positions[boundary_curves(before.triangulated())]
    along = (ends[:, :1] + np.linspace(0, 1, 9)[None, :, None] * (ends[:, 1:] - ends[:, :1])).reshape(-1, 3)
    on_rim = (rim[:, :1] + np.linspace(0, 1, 9)[None, :, None] * (rim[:, 1:] - rim[:, :1])).reshape(-1, 3)
    gap, _ = cKDTree(on_rim).query(along)
    centre = along[np.argmax(gap)]
    titles = {}
    for label, result in results.items():
        moved, kept = boundary_deviation(result, reference), boundary_deviation(result, reference, floor)
        titles[label] = f"{label}: rim moved {100 * moved:.2f}% ({100 * kept:.2f}%)"
        print(f"{args.mesh} {label}: {result.num_faces} faces, boundary deviation {100 * moved:.2f}% of the "
              f"diagonal, {100 * kept:.2f}% with holes under a quad free to close")
    fig = close_ups(results, titles, fixed, rim, centre)
    save(fig, f"{args.mesh} at {args.faces} quads: rims (input's red; in brackets: holes under a quad may close)",
         args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
