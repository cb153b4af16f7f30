"""Part segmentation quality on the procedural engine's objects (ground-truth part labels).

Each asset is extracted as ONE watertight mesh (marching cubes over its SDF), so connected
components alone cannot split it. Truth = the engine's per-face part labels split into connected
instances (each leg its own part). Prints matched mIoU (Hungarian, area-weighted) per object for:
  baseline  k-means on face centroids with the true part count (a position-only split)
  auto      Kiln parts op, method auto, part count chosen by itself
  auto@k    Kiln parts op, method auto, told the true count (crease merging, spectral fallback)
  sdf@k     Kiln parts op, method sdf, told the true count
  convex    Kiln parts op, method convex (CoACD)
and the time of each relative to the baseline, measured in the same run. ``names`` is the share
of the surface (auto run) whose matched part got the engine's name ("leg_2" counts as "leg").

    nice -n 10 .venv/bin/python bench/parts.py [--seeds 2] [--resolution 64]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.geometry.mesh_graph import face_graph, split_into_connected  # noqa: E402
from backend.geometry.segmentation_metrics import iou_matrix, matched_miou  # noqa: E402
from backend.ops import parts  # noqa: E402
from backend.runtime import CancelToken  # noqa: E402
from backend.procedural.meshing import watertight_mesh  # noqa: E402
from backend.procedural.registry import categories, generate  # noqa: E402
from shared.payload import MeshPayload  # noqa: E402


def instances(vertices, faces, labels, areas):
    """Engine labels split into connected pieces; slivers under 0.5% of the area are dropped."""
    graph = face_graph(vertices.astype(np.float64), faces)
    pieces = split_into_connected(labels, graph.pairs)
    share = np.bincount(pieces, weights=areas) / areas.sum()
    keep = share[pieces] >= 0.005
    return pieces, keep


def name_accuracy(predicted, predicted_names, truth, truth_names, areas) -> float:
    """Area share of true instances whose Hungarian-matched prediction carries the true name."""
    ious = iou_matrix(predicted, truth, areas)
    rows, cols = linear_sum_assignment(-ious)
    right = 0.0
    for r, c in zip(rows, cols):
        if ious[r, c] > 0 and predicted_names[r].rsplit("_", 1)[0] == truth_names[c]:
            right += areas[truth == c].sum()
    return float(right / areas.sum())


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()
    columns = ("baseline", "auto", "auto@k", "sdf@k", "convex")
    scores = {c: [] for c in columns}
    naming = []
    seconds = {c: 0.0 for c in columns}
    print(f"{'object':<12}{'faces':>7}{'parts':>6}" + "".join(f"{c:>10}" for c in columns) + "   auto count  names")
    for name in categories():
        for seed in range(args.seeds):
            asset = generate(name, seed)
            vertices, faces, labels = watertight_mesh(asset, args.resolution)
            tri = vertices[faces].astype(np.float64)
            areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
            truth, keep = instances(vertices, faces, labels, areas)
            k = len(np.unique(truth[keep]))
            mesh = MeshPayload.from_triangles(vertices, faces)

            named = {}

            def op(**params):
                out = parts.run({"mesh": mesh}, {"num_parts": 0, "method": "auto", **params},
                                lambda *a: None, CancelToken())["mesh"]
                named.setdefault("auto", out)
                return out.part_ids

            centroids = tri.mean(axis=1)
            runs = {
                "baseline": lambda: kmeans2(centroids, k, minit="++", seed=np.random.default_rng(0))[1],
                "auto": lambda: op(),
                "auto@k": lambda: op(num_parts=k),
                "sdf@k": lambda: op(method="sdf", num_parts=k),
                "convex": lambda: op(method="convex"),
            }
            row = []
            auto_count = 0
            for column in columns:
                predicted, spent = timed(runs[column])
                seconds[column] += spent
                _, predicted = np.unique(predicted[keep], return_inverse=True)
                _, truth_kept = np.unique(truth[keep], return_inverse=True)
                value = matched_miou(predicted, truth_kept, areas[keep])
                scores[column].append(value)
                row.append(value)
                if column == "auto":
                    auto_count = int(predicted.max()) + 1
            auto = named["auto"]
            _, auto_ids = np.unique(auto.part_ids[keep], return_inverse=True)
            auto_names = [auto.part_names[i] for i in np.unique(auto.part_ids[keep])]
            truth_ids, truth_kept = np.unique(truth[keep], return_inverse=True)
            first = {t: labels[keep][truth[keep] == t][0] for t in truth_ids}
            truth_names = [asset.part_names[first[t]] for t in truth_ids]
            naming.append(name_accuracy(auto_ids, auto_names, truth_kept, truth_names, areas[keep]))
            print(f"{name + str(seed):<12}{len(faces):>7}{k:>6}" + "".join(f"{v:>10.3f}" for v in row)
                  + f"   {auto_count:>10}  {naming[-1]:.2f}")
    print(f"{'mean mIoU':<25}" + "".join(f"{np.mean(scores[c]):>10.3f}" for c in columns)
          + f"{'':>15}{np.mean(naming):.2f}")
    base = max(seconds["baseline"], 1e-9)
    print(f"{'time vs baseline':<25}" + "".join(f"{seconds[c] / base:>9.1f}x" for c in columns))
    print(f"{'seconds':<25}" + "".join(f"{seconds[c]:>10.2f}" for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
