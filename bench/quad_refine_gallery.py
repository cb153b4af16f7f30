"""Close-up of a quad remesh's rim before and after the local refinement (quad_gaps), on a scan.

    .venv/bin/python bench/quad_refine_gallery.py [--mesh bunny10k] [--faces 2000] [--out bench/gallery-quad-refine.png]

Runs the retopo op (mode quad) twice on the corpus mesh: with refinement off
(``quad_gaps.REFINE_ROUNDS = 0``) and as shipped; draws the quads around the input rim point the unrefined
result misses most (seen square to the input's surface there), with the input's
rim in red, and prints both results' rim deviation (``metrics.boundary_deviation``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import mesh_corpus  # noqa: E402
from backend.geometry import quad_gaps, repair  # noqa: E402
from backend.geometry.metrics import boundary_deviation  # noqa: E402
from backend.geometry.polymesh import bbox_diagonal  # noqa: E402
from backend.geometry.surface_fit import boundary_curves  # noqa: E402
from backend.ops import retopo  # noqa: E402
from backend.runtime import CancelToken, no_progress  # noqa: E402
from shared.payload import MeshPayload  # noqa: E402


def remesh_with(mesh: MeshPayload, faces: int, module, name: str, value) -> MeshPayload:
    """The retopo op's quad result with ``module.name`` set to ``value`` for the run."""
    kept = getattr(module, name)
    setattr(module, name, value)
    try:
        return retopo.run({"mesh": mesh}, {"target_faces": faces, "mode": "quad"}, no_progress, CancelToken())["mesh"]
    finally:
        setattr(module, name, kept)


def load_repaired(name: str) -> tuple[MeshPayload, repair.TriMesh, MeshPayload]:
    """Corpus mesh ``name``, as the op repairs it, and that repaired mesh as a payload."""
    mesh = mesh_corpus.load(name)
    fixed = repair.clean(*repair.triangulate(mesh.positions, mesh.face_sizes, mesh.face_indices), [])
    return mesh, fixed, MeshPayload.from_triangles(fixed.vertices, fixed.triangles)


def save(fig, title: str, out: str) -> None:
    """Write ``fig`` with ``title`` over its panels to ``out``."""
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(out)


def close_ups(results: dict[str, MeshPayload], titles: dict[str, str], fixed: repair.TriMesh, rim: np.ndarray,
              centre: np.ndarray):
    """A figure with one panel per result: its quads within reach of ``centre`` seen square to
    the input's surface there, with the input's ``rim`` segments (R,2,3) in red."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PolyCollection

    reach = 0.06 * bbox_diagonal(fixed.vertices)
    local = fixed.vertices[np.linalg.norm(fixed.vertices - centre, axis=1) < reach]
    basis = np.linalg.svd(local - local.mean(axis=0), full_matrices=False)[2][:2]  # the surface's local plane

    def flat(points: np.ndarray) -> np.ndarray:
        return (points - centre) @ basis.T
    fig, panels = plt.subplots(1, len(results), figsize=(4.5 * len(results), 4.6), dpi=90)
    for panel, (label, result) in zip(np.atleast_1d(panels), results.items()):
        corners = result.positions[result.face_indices.reshape(-1, 4)]
        near = np.linalg.norm(corners.mean(axis=1) - centre, axis=1) < 1.5 * reach
        panel.add_collection(PolyCollection(flat(corners[near]), facecolor="#dde4ee", edgecolor="#334", linewidth=0.7))
        panel.add_collection(LineCollection(flat(rim), colors="#d22", linewidths=1.4))
        panel.set_xlim(-reach, reach)
        panel.set_ylim(-reach, reach)
        panel.set_aspect("equal")
        panel.set_xticks([])
        panel.set_yticks([])
        panel.set_title(titles[label], fontsize=10)
    return fig


def arguments(description: str, mesh: str, out: str) -> argparse.Namespace:
    """--mesh (default ``mesh``), --faces (2000) and --out (default bench/``out``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--mesh", default=mesh)
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "bench" / out))
    return parser.parse_args()


def main() -> int:
    args = arguments(__doc__.splitlines()[0], "bunny10k", "gallery-quad-refine.png")
    from scipy.spatial import cKDTree

    mesh, fixed, reference = load_repaired(args.mesh)
    rim = fixed.vertices[boundary_curves(fixed.triangles)]
    results = {"refinement off": remesh_with(mesh, args.faces, quad_gaps, "REFINE_ROUNDS", 0),
               "as shipped": remesh_with(mesh, args.faces, quad_gaps, "REFINE_ROUNDS", quad_gaps.REFINE_ROUNDS)}
    before = next(iter(results.values()))
    ends = before.positions[boundary_curves(before.triangulated())]
    along = (ends[:, :1] + np.linspace(0, 1, 9)[None, :, None] * (ends[:, 1:] - ends[:, :1])).reshape(-1, 3)
    gap, _ = cKDTree(along).query(rim.reshape(-1, 3))
    centre = rim.reshape(-1, 3)[np.argmax(gap)]
    titles = {}
    for label, result in results.items():
        moved = boundary_deviation(result, reference)
        titles[label] = f"{label}: {result.num_faces} quads, rim moved {100 * moved:.2f}%"
        print(f"{args.mesh} {label}: {result.num_faces} faces, boundary deviation {100 * moved:.2f}% of the diagonal")
    fig = close_ups(results, titles, fixed, rim, centre)
    save(fig, f"{args.mesh} at {args.faces} quads: rim close-up (input rim red)", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
