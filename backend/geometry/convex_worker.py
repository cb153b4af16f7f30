"""Child-process entry point: approximate convex decomposition with CoACD (see isolated.py).

Input arrays ``positions``/``triangles``; params ``threshold`` and ``max_hulls``. Output: per
hull, its vertices concatenated in ``hull_points`` with ``hull_offsets`` marking where each starts.
"""
from __future__ import annotations

import sys

import numpy as np


def main(argv: list[str]) -> int:
    import coacd

    from backend.geometry.isolated import worker_io

    arrays, params, write = worker_io(argv)
    coacd.set_log_level("error")
    hulls = coacd.run_coacd(coacd.Mesh(arrays["positions"].astype(np.float64), arrays["triangles"].astype(np.int32)),
                            threshold=float(params["threshold"]), max_convex_hull=int(params["max_hulls"]),
                            preprocess_mode="auto", resolution=1000, mcts_iterations=60, mcts_max_depth=2,
                            mcts_nodes=10, seed=0)
    points = [np.asarray(v, dtype=np.float64) for v, _ in hulls]
    offsets = np.cumsum([0] + [len(p) for p in points])
    write({"hull_points": np.concatenate(points) if points else np.zeros((0, 3)), "hull_offsets": offsets})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
