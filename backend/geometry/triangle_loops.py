"""Leftover triangles of a quad-dominant mesh turned into quads two at a time by a cut between them.

A triangle's edge leads straight across a strip of quads (in at one edge, out at the opposite
one). When the strip ends at another leftover triangle, cutting every edge crossed at its midpoint
splits each quad of the strip in two and gives each end triangle a fourth corner: both become
quads, for one extra face per quad crossed. A strip may also end at an open border (the cut
ends on it, one triangle joined). Strips are taken cheapest first (quads crossed per triangle
joined), each triangle and quad in one strip at most. The end midpoints are pulled a little along the cut into the strip,
so the end quads do not keep a straight corner where the triangle's edge was (the pull that
gives the squarest end quad of ``PULLS``); a strip whose end quad stays non-convex or keeps a
corner over ``MAX_CORNER`` at every pull (a cap: a triangle with a corner near 180 degrees) is
not cut. The caller then moves the new vertices onto the input surface.
"""
from __future__ import annotations

import numpy as np

from .quad_pairing import corner_angles

MAX_STRIP = 6  # quads crossed at most (one extra face each)
PULLS = np.array([0.3, 0.45, 0.15, 0.0])  # how far an end midpoint may move toward the next one of its cut
MAX_CORNER = 170.0  # an end quad must be convex with no corner above this (as quad_pairing's pairs)


def _edge_faces(faces: list[tuple[int, ...]]) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Undirected edge -> [(face, local edge index)]; local edge k runs from corner k to k+1."""
    found: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for f, face in enumerate(faces):
        n = len(face)
        for k in range(n):
            a, b = face[k], face[(k + 1) % n]
            found.setdefault((min(a, b), max(a, b)), []).append((f, k))
    return found


def _across(faces, edge_faces, f: int, k: int) -> tuple[int, int] | None:
    """The other face on face ``f``'s edge ``k`` and that edge's index there: (-1, -1) at an open
    border, None at a non-manifold edge."""
    face = faces[f]
    a, b = face[k], face[(k + 1) % len(face)]
    sides = edge_faces[(min(a, b), max(a, b))]
    if len(sides) == 1:
        return -1, -1
    if len(sides) != 2:
        return None
    return sides[1] if sides[0][0] == f else sides[0]


def _strips(faces, edge_faces, triangle_count: int):
    """Every strip from a triangle edge straight across quads to another triangle or to an open
    border: (quads crossed per triangle joined, first triangle, its edge, last triangle (-1 at a
    border), its edge, [(quad, entry edge)]), cheapest first."""
    found = []
    for t in range(triangle_count):
        for k in range(3):
            f, e, path, seen = t, k, [], set()
            while len(path) <= MAX_STRIP:
                nxt = _across(faces, edge_faces, f, e)
                if nxt is None:
                    break
                g, ge = nxt
                if g < triangle_count:
                    if path and g != t:
                        found.append((len(path) / (1 + (g >= 0)), t, k, g, ge, path))
                    break
                if g in seen:
                    break
                seen.add(g)
                path.append((g, ge))
                f, e = g, (ge + 2) % 4
    found.sort(key=lambda s: s[0])
    return found


def _mid(v: np.ndarray, face: tuple[int, ...], k: int) -> np.ndarray:
    return 0.5 * (v[face[k]] + v[face[(k + 1) % len(face)]])


def _end_pull(v: np.ndarray, triangle: tuple[int, ...], k: int, toward: np.ndarray) -> float | None:
    """The pull (of ``PULLS``) toward ``toward`` for the midpoint of ``triangle``'s edge ``k`` that
    gives the quad (a, m, b, c) the smallest largest corner while convex; None when none is
    convex with every corner under ``MAX_CORNER``."""
    a, b, c = triangle[k], triangle[(k + 1) % 3], triangle[(k + 2) % 3]
    m = _mid(v, triangle, k)
    spots = m + PULLS[:, None] * (toward - m)
    points = np.concatenate([v[[a, b, c]], spots])
    quads = np.stack([np.zeros(len(PULLS), int), 3 + np.arange(len(PULLS)), np.ones(len(PULLS), int),
                      np.full(len(PULLS), 2)], axis=1)
    angles, convex = corner_angles(points, quads)
    worst = np.where(convex, angles.max(axis=1), np.inf)
    best = int(np.argmin(worst))
    return float(PULLS[best]) if worst[best] <= MAX_CORNER else None


def _shaped(v: np.ndarray, faces, strips):
    """The strips whose end quads can be made clean, each with the pull of each end."""
    kept = []
    for strip in strips:
        _, t, k, u, uk, path = strip
        first_next = _mid(v, faces[path[0][0]], (path[0][1] + 2) % 4)
        last_prev = _mid(v, faces[path[-1][0]], path[-1][1])
        pulls = [_end_pull(v, faces[t], k, first_next)]
        if u >= 0:
            pulls.append(_end_pull(v, faces[u], uk, last_prev))
        if None not in pulls:
            kept.append((*strip, pulls))
    return kept


def _chosen(strips):
    """Cheapest strips first, each triangle and quad in at most one."""
    used: set[int] = set()
    taken = []
    for strip in strips:
        _, t, _, u, _, path, _ = strip
        crossed = {q for q, _ in path}
        if t in used or u in used or used & crossed:
            continue
        used |= crossed | {t, u} - {-1}
        taken.append(strip)
    return taken


def join_triangles(vertices: np.ndarray, triangles: np.ndarray, quads: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(vertices, triangles, quads, first new vertex): leftover triangles joined in pairs by cuts
    across the quad strips between them. New vertices are appended after the old ones."""
    v = np.asarray(vertices, np.float64)
    tris = np.asarray(triangles, np.int64).reshape(-1, 3)
    quads = np.asarray(quads, np.int64).reshape(-1, 4)
    faces = [tuple(f) for f in tris.tolist()] + [tuple(f) for f in quads.tolist()]
    edge_faces = _edge_faces(faces)
    taken = _chosen(_shaped(v, faces, _strips(faces, edge_faces, len(tris))))
    if not taken:
        return v, tris, quads, len(v)
    mid: dict[tuple[int, int], int] = {}
    positions: list[np.ndarray] = []

    def midpoint(f: int, k: int) -> int:
        face = faces[f]
        a, b = face[k], face[(k + 1) % len(face)]
        key = (min(a, b), max(a, b))
        if key not in mid:
            mid[key] = len(v) + len(positions)
            positions.append(0.5 * (v[a] + v[b]))
        return mid[key]

    replaced: dict[int, list[tuple[int, ...]]] = {}
    pulls = []
    for _, t, k, u, uk, path, end_pulls in taken:
        cut = [midpoint(t, k)] + [midpoint(q, (e + 2) % 4) for q, e in path]
        ends = [(t, k, cut[0], cut[1])] + ([(u, uk, cut[-1], cut[-2])] if u >= 0 else [])
        for (f, e, m, inner), pull in zip(ends, end_pulls):
            a, b, c = faces[f][e], faces[f][(e + 1) % 3], faces[f][(e + 2) % 3]
            replaced[f] = [(a, m, b, c)]
            pulls.append((m, inner, pull))
        for (q, e), m_in, m_out in zip(path, cut[:-1], cut[1:]):
            p = [faces[q][(e + i) % 4] for i in range(4)]
            replaced[q] = [(p[0], m_in, m_out, p[3]), (m_in, p[1], p[2], m_out)]
    new = np.array(positions)
    first = len(v)
    start = new.copy()
    for end, inner, pull in pulls:
        new[end - first] += pull * (start[inner - first] - start[end - first])
    out_tris = [f for i, f in enumerate(faces[:len(tris)]) if i not in replaced]
    out_quads = [f for i, f in enumerate(faces) if i >= len(tris) and i not in replaced]
    out_quads += [q for i in sorted(replaced) for q in replaced[i]]
    return (np.concatenate([v, new]), np.array(out_tris, np.int64).reshape(-1, 3),
            np.array(out_quads, np.int64).reshape(-1, 4), first)
