"""Close-up of the cow's horns: the input, the quad remesh without the inflated field input
(``quad_inflate``) and as shipped.

    .venv/bin/python bench/quad_inflate_gallery.py [--mesh cow] [--faces 2000] [--out bench/gallery-quad-inflate.png]

Runs the retopo op (mode quad) twice: with ``quad_remesh.INFLATE_SHARES`` empty and as shipped;
draws the faces within reach of the output point the first result has farthest from the input
(the project's rasterizer), and prints both results' Hausdorff distance (the bench's metric).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from backend.geometry import quad_remesh  # noqa: E402
from backend.geometry.metrics import surface_distance  # noqa: E402
from backend.geometry.polymesh import bbox_diagonal  # noqa: E402
from backend.geometry.surface_distance import SurfaceQuery  # noqa: E402
from backend.procedural.gallery import rasterize  # noqa: E402
from quad_refine_gallery import load_repaired, remesh_with, save  # noqa: E402
from shared.payload import MeshPayload  # noqa: E402


def crop(mesh: MeshPayload, centre: np.ndarray, reach: float) -> MeshPayload:
    """The faces of ``mesh`` whose first corner lies within ``reach`` of ``centre``."""
    faces = np.split(mesh.face_indices, np.cumsum(mesh.face_sizes)[:-1])
    kept = [f for f in faces if np.linalg.norm(mesh.positions[f[0]] - centre) < reach]
    used, corners = np.unique(np.concatenate(kept), return_inverse=True)
    return MeshPayload(mesh.positions[used], np.array([len(f) for f in kept]), corners)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", default="cow")
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--azimuth", type=float, default=180.0)
    parser.add_argument("--elevation", type=float, default=45.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "gallery-quad-inflate.png"))
    args = parser.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    mesh, fixed, reference = load_repaired(args.mesh)
    results = {"input": reference, "without inflating": remesh_with(mesh, args.faces, quad_remesh, "INFLATE_SHARES", ()),
               "as shipped": remesh_with(mesh, args.faces, quad_remesh, "INFLATE_SHARES",
                                         quad_remesh.INFLATE_SHARES)}
    before = results["without inflating"]
    corners = before.positions[before.triangulated()].mean(axis=1)
    centre = corners[np.argmax(SurfaceQuery(fixed.vertices, fixed.triangles).distance(corners))]
    reach = 0.15 * bbox_diagonal(fixed.vertices)
    fig, panels = plt.subplots(1, 3, figsize=(12, 4.4), dpi=80)
    for panel, (label, result) in zip(panels, results.items()):
        panel.imshow(rasterize(crop(result, centre, reach), 360, args.azimuth, args.elevation))
        panel.set_axis_off()
        if result is reference:
            panel.set_title(f"input: {result.num_faces} triangles", fontsize=10)
            continue
        haus = surface_distance(result, reference, samples=30_000).hausdorff
        panel.set_title(f"{label}: {result.num_faces} quads, Hausdorff {100 * haus:.2f}%", fontsize=10)
        print(f"{args.mesh} {label}: {result.num_faces} faces, Hausdorff {100 * haus:.2f}% of the diagonal")
    save(fig, f"{args.mesh} at {args.faces} quads: close-up where the remesh missed most", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
