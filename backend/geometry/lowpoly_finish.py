"""The two ways lowpoly finishes a decimated, paired mesh (vertices, leftover triangles, quads)
before its faces are counted, each giving (vertices, triangles, quads): ``as_paired`` keeps it as
it is; ``joined`` joins leftover triangles in pairs by a cut across the quad strip between them
(``triangle_loops``: one extra face per quad crossed) and moves the cut's new vertices onto the
input surface.

Cutting every face into quads instead (4 per quad, 3 per triangle, all quads) was measured and
dropped: at the same face ceiling the decimation keeps a third as many triangles, and Chamfer
rose 3-10x (a 176-face chair lost whole slats: 35% Hausdorff)."""
from __future__ import annotations

import numpy as np

from .surface_distance import SurfaceQuery
from .triangle_loops import join_triangles

MAX_MOVE = 0.5  # a new vertex moves onto the input by at most this share of its longest edge


def onto_surface(vertices: np.ndarray, faces: list[np.ndarray], first_new: int, surface: SurfaceQuery) -> np.ndarray:
    """The vertices from ``first_new`` on moved to the closest point of ``surface``, unless that is
    farther than ``MAX_MOVE`` of the longest edge at the vertex (a thin part's other side)."""
    v = np.array(vertices, np.float64)
    if len(v) == first_new:
        return v
    edges = np.concatenate([np.stack([f, np.roll(f, -1, axis=1)], axis=2).reshape(-1, 2) for f in faces if len(f)])
    length = np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1)
    longest = np.zeros(len(v))
    np.maximum.at(longest, edges[:, 0], length)
    np.maximum.at(longest, edges[:, 1], length)
    new = np.arange(first_new, len(v))
    closest, _ = surface.closest_points(v[new])
    ok = np.linalg.norm(closest - v[new], axis=1) <= MAX_MOVE * longest[new]
    v[new[ok]] = closest[ok]
    return v


def as_paired(vertices, rest, quads, surface):
    """The pairing as it is."""
    return vertices, rest, quads


def joined(vertices, rest, quads, surface):
    """Leftover triangles joined in pairs (``triangle_loops``), new vertices onto ``surface``."""
    v, t, q, first = join_triangles(vertices, rest, quads)
    return onto_surface(v, [t, q], first, surface), t, q
