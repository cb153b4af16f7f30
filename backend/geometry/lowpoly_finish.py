"""The ways lowpoly finishes a decimated, paired mesh (vertices, leftover triangles, quads)
before its faces are counted, each giving (vertices, triangles, quads): ``as_paired`` keeps it as
it is; ``joined`` joins leftover triangles in pairs by a cut across the quad strip between them
(``triangle_loops``: one extra face per quad crossed) and moves the cut's new vertices onto the
input surface; ``regions`` rebuilds the decimated triangles region by region (``planar_quads``:
near-planar regions, neighbours with an odd corner count merged, their borders simplified, each
region's polygon cut into quads), pairs what triangles that leaves and then joins as ``joined`` does.

Cutting every face into quads instead (4 per quad, 3 per triangle, all quads) was measured and
dropped: at the same face ceiling the decimation keeps a third as many triangles, and Chamfer
rose 3-10x (a 176-face chair lost whole slats: 35% Hausdorff)."""
from __future__ import annotations

import numpy as np

from .planar_quads import planar_quads
from .polymesh import bbox_diagonal
from .quad_pairing import corner_angles, pair_triangles
from .surface_distance import SurfaceQuery
from .triangle_loops import join_triangles

MAX_MOVE = 0.5  # a new vertex moves onto the input by at most this share of its longest edge
PLANAR_ANGLE = 10.0  # degrees: a region's faces stay within this of its first face's normal
PLANAR_TOL = 0.001  # share of the diagonal a simplified region border may leave the old one
SPLIT_CORNER = 175.0  # degrees: a quad over this (or not convex) once the cut's vertices moved goes back to triangles
MERGE_ANGLE = 70.0  # two neighbouring regions with odd corner counts merge within this (table 0.59 -> 0.70 quads over 45)


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


def regions(vertices, rest, quads, surface, crease=None):
    """The decimated triangles rebuilt as near-planar regions cut into quads (``planar_quads``),
    the triangles that leaves paired, then joined as in :func:`joined`; a cut's vertex whose move
    onto the input bends a quad (``clean_quads``) stays where the cut put it. With ``crease``
    (degrees), regions grow and merge only between normals within it, and no pair folds over a
    sharper edge."""
    triangles = np.concatenate([rest.reshape(-1, 3), quads[:, :3], quads[:, [0, 2, 3]]])
    bound = np.inf if crease is None else crease
    tris, cut, _ = planar_quads(vertices, triangles, min(PLANAR_ANGLE, bound), PLANAR_TOL * bbox_diagonal(vertices),
                                min(MERGE_ANGLE, bound))
    paired, left = pair_triangles(vertices, tris, crease=crease)
    v, t, q, first = join_triangles(vertices, left, np.concatenate([cut, paired]))
    moved = onto_surface(v, [t, q], first, surface)
    angles, convex = corner_angles(moved, q)
    bent = q[~convex | (angles.max(axis=1) > SPLIT_CORNER)].reshape(-1)
    bent = bent[bent >= first]
    moved[bent] = v[bent]
    return moved, *clean_quads(moved, t, q)


def clean_quads(vertices, triangles, quads):
    """(triangles, quads) with every quad that is not convex or has a corner over ``SPLIT_CORNER``
    split back into two triangles (across the diagonal whose two triangles face the most alike:
    the one from a reflex corner): moving a cut's vertices onto the input can bend an end quad."""
    angles, convex = corner_angles(vertices, quads)
    bad = ~convex | (angles.max(axis=1) > SPLIT_CORNER)
    if not bad.any():
        return triangles, quads
    q = quads[bad]
    splits = [(q[:, [0, 1, 2]], q[:, [0, 2, 3]]), (q[:, [0, 1, 3]], q[:, [1, 2, 3]])]
    alike = [np.einsum("ij,ij->i", _unit_normals(vertices, a), _unit_normals(vertices, b)) for a, b in splits]
    first = (alike[0] >= alike[1])[:, None]
    halves = [np.where(first, splits[0][k], splits[1][k]) for k in (0, 1)]
    return np.concatenate([triangles.reshape(-1, 3), *halves]), quads[~bad]


def _unit_normals(vertices, triangles):
    n = np.cross(vertices[triangles[:, 1]] - vertices[triangles[:, 0]], vertices[triangles[:, 2]] - vertices[triangles[:, 0]])
    return n / np.maximum(np.linalg.norm(n, axis=1), 1e-300)[:, None]
