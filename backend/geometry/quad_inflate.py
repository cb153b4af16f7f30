"""A closed part offset outward along its vertex normals, as a field input for a remesher whose
quads are all about one size.

Offsetting by ``d`` grows a thin part of radius ``r`` (a horn, a limb) by ``(r + d) / r`` in
area while a flat one keeps its area, so a remesher that spreads its quads evenly over the
offset surface lays relatively more of them on the thin parts; the quads are then fitted back
onto the part itself. On the cow at 1500/2000/3000 faces every offset of 0.25-2% of the
diagonal left QuadriFlow's fitted result closer to the horns than no offset (bench/RESULTS.md);
3-4% is too much (concave places fold over).
"""
from __future__ import annotations

import numpy as np

from .bake import vertex_normals
from .polymesh import bbox_diagonal

# offsets tried, as shares of the part's bbox diagonal, smallest (least distorted) first;
# each is one more QuadriFlow draw (its field is chaotic: no single offset wins on every budget)
INFLATE_SHARES = (0.005, 0.01, 0.02)


def inflated(vertices: np.ndarray, triangles: np.ndarray, share: float) -> np.ndarray:
    """``vertices`` moved outward along their normals by ``share`` of the bbox diagonal."""
    vertices = np.asarray(vertices, np.float64)
    return vertices + share * bbox_diagonal(vertices) * vertex_normals(vertices, triangles)
