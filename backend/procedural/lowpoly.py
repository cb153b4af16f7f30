"""Low-poly polygon pieces, built the way a modeller would: quads around, n-gon caps, few faces.

A :class:`Piece` is one separate mesh island of an artist mesh: vertices, polygons (sizes +
flat indices) and per-corner UVs in metres grouped into UV islands (``face_island``). The UVs are
packed into the unit square later, for the whole asset at once (see ``uv.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Piece:
    """One connected low-poly mesh piece."""

    vertices: np.ndarray        # (V,3) float64
    face_sizes: np.ndarray      # (F,) int
    face_indices: np.ndarray    # (sum sizes,) int
    corner_uv: np.ndarray       # (sum sizes, 2) UVs in metres (true scale), per island
    face_island: np.ndarray     # (F,) island id of each face, local to this piece

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> "Piece":
        """The piece moved rigidly: x -> R x + t."""
        return Piece(self.vertices @ rotation.T + translation, self.face_sizes, self.face_indices,
                     self.corner_uv, self.face_island)


def _piece(vertices, polygons, uvs, islands) -> Piece:
    """Build a Piece from a list of polygons (vertex index lists) with matching UV lists."""
    sizes = np.array([len(p) for p in polygons], dtype=np.int64)
    return Piece(np.asarray(vertices, dtype=np.float64), sizes,
                 np.concatenate([np.asarray(p, dtype=np.int64) for p in polygons]),
                 np.concatenate([np.asarray(u, dtype=np.float64).reshape(-1, 2) for u in uvs]),
                 np.asarray(islands, dtype=np.int64))


def _planar_uv(points: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Project 3-D points onto the plane with ``normal``; metres, arbitrary in-plane axes."""
    normal = normal / np.linalg.norm(normal)
    helper = np.array([0.0, 0.0, 1.0]) if abs(normal[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(helper, normal)
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    return np.stack([points @ u, points @ v], axis=1)


def box_piece(size) -> Piece:
    """An axis-aligned box centred at the origin: 8 vertices, 6 quads, one UV island per face."""
    hx, hy, hz = np.asarray(size, dtype=np.float64) / 2
    v = np.array([[x, y, z] for z in (-hz, hz) for y in (-hy, hy) for x in (-hx, hx)])
    quads = [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]]
    normals = [(0, 0, -1), (0, 0, 1), (0, -1, 0), (0, 1, 0), (-1, 0, 0), (1, 0, 0)]
    uvs = [_planar_uv(v[q], np.array(n, dtype=np.float64)) for q, n in zip(quads, normals)]
    return _piece(v, quads, uvs, range(6))


def lathe_piece(profile: np.ndarray, segments: int) -> Piece:
    """Revolve a closed (r, z) profile polygon around the z axis with ``segments`` steps.

    Profile vertices on the axis (r == 0) become poles: an axis vertex joined to a rim vertex at
    the same height closes the ring with one n-gon cap (how a modeller caps a cylinder); at a
    different height, with a triangle fan (a cone tip). Side faces are quads. The side strip is
    one UV island (arc length at the widest radius x profile length); each cap is its own island.
    """
    profile = np.asarray(profile, dtype=np.float64)
    on_axis = profile[:, 0] <= 1e-9
    angles = np.arange(segments) * (2 * np.pi / segments)
    cos, sin = np.cos(angles), np.sin(angles)
    vertices: list = []
    ring: dict[int, list[int] | int] = {}
    for i, (r, z) in enumerate(profile):
        if on_axis[i]:
            ring[i] = len(vertices)
            vertices.append((0.0, 0.0, z))
        else:
            ring[i] = list(range(len(vertices), len(vertices) + segments))
            vertices.extend(zip(r * cos, r * sin, np.full(segments, z)))
    vertices = np.array(vertices)
    n = len(profile)
    edge_len = np.linalg.norm(np.roll(profile, -1, 0) - profile, axis=1)
    v_at = np.concatenate([[0.0], np.cumsum(edge_len)])
    width = 2 * np.pi * max(profile[:, 0].max(), 1e-6)
    polygons, uvs, islands = [], [], []
    next_island = 1
    for i in range(n):
        j = (i + 1) % n
        a, b = ring[i], ring[j]
        if on_axis[i] and on_axis[j]:
            continue  # the axis itself is not a surface
        if on_axis[i] != on_axis[j] and abs(profile[i, 1] - profile[j, 1]) < 1e-9:
            rim = b if on_axis[i] else a
            cap = list(rim) if on_axis[j] else list(reversed(rim))
            # orientation: the profile runs counter-clockwise in (r, z); a cap at the bottom faces -z
            polygons.append(cap)
            uvs.append(_planar_uv(vertices[cap], np.array([0.0, 0.0, 1.0])))
            islands.append(next_island)
            next_island += 1
            continue
        for s in range(segments):
            t = (s + 1) % segments
            u0, u1 = s / segments * width, (s + 1) / segments * width
            if on_axis[i]:
                polygons.append([a, b[t], b[s]])
                uvs.append([((u0 + u1) / 2, v_at[i]), (u1, v_at[i + 1]), (u0, v_at[i + 1])])
            elif on_axis[j]:
                polygons.append([a[s], a[t], b])
                uvs.append([(u0, v_at[i]), (u1, v_at[i]), ((u0 + u1) / 2, v_at[i + 1])])
            else:
                polygons.append([a[s], a[t], b[t], b[s]])
                uvs.append([(u0, v_at[i]), (u1, v_at[i]), (u1, v_at[i + 1]), (u0, v_at[i + 1])])
            islands.append(0)
    return _piece(vertices, polygons, uvs, islands)


def extrusion_piece(polygon: np.ndarray, height: float) -> Piece:
    """A convex (x, y) polygon extruded along z, centred: two n-gon caps and a ring of quads."""
    polygon = np.asarray(polygon, dtype=np.float64)
    k = len(polygon)
    h = height / 2
    vertices = np.concatenate([np.c_[polygon, np.full(k, -h)], np.c_[polygon, np.full(k, h)]])
    polygons = [list(range(k - 1, -1, -1)), list(range(k, 2 * k))]
    uvs = [polygon[::-1].copy(), polygon.copy()]
    islands = [1, 2]
    edge_len = np.linalg.norm(np.roll(polygon, -1, 0) - polygon, axis=1)
    u_at = np.concatenate([[0.0], np.cumsum(edge_len)])
    for i in range(k):
        j = (i + 1) % k
        polygons.append([i, j, k + j, k + i])
        uvs.append([(u_at[i], 0), (u_at[i + 1], 0), (u_at[i + 1], height), (u_at[i], height)])
        islands.append(0)
    return _piece(vertices, polygons, uvs, islands)


def torus_piece(major: float, minor: float, arc: float, segments: int, sides: int) -> Piece:
    """A torus (or an arc of one, symmetric about +y, with round-ish n-gon end caps) in the xy plane."""
    full = arc >= 2 * np.pi - 1e-9
    steps = segments if full else max(2, int(np.ceil(segments * arc / (2 * np.pi))))
    count = steps if full else steps + 1
    phis = np.pi / 2 - arc / 2 + np.arange(count) * (arc / steps)
    thetas = np.arange(sides) * (2 * np.pi / sides)
    radial = major + minor * np.cos(thetas)
    vertices = np.concatenate([np.c_[radial * np.cos(p), radial * np.sin(p), minor * np.sin(thetas)]
                               for p in phis])
    polygons, uvs, islands = [], [], []
    circumference = 2 * np.pi * minor
    for a in range(steps):
        b = (a + 1) % count
        for s in range(sides):
            t = (s + 1) % sides
            polygons.append([a * sides + s, b * sides + s, b * sides + t, a * sides + t])
            u0, u1 = a * (major + minor) * arc / steps, (a + 1) * (major + minor) * arc / steps
            v0, v1 = s / sides * circumference, (s + 1) / sides * circumference
            uvs.append([(u0, v0), (u1, v0), (u1, v1), (u0, v1)])
            islands.append(0)
    if not full:
        for end, island in ((0, 1), (count - 1, 2)):
            ring = [end * sides + s for s in range(sides)]
            polygons.append(ring)
            uvs.append(np.c_[np.cos(thetas), np.sin(thetas)] * minor)
            islands.append(island)
    return _piece(vertices, polygons, uvs, islands)


def hull_piece(points: np.ndarray) -> tuple[Piece, np.ndarray]:
    """The convex hull of ``points`` as planar polygons; returns (piece, planes (K,4): n.x - d)."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(points)
    vertices = hull.points
    keys = np.round(hull.equations, 6)
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.reshape(-1)
    polygons, uvs, planes = [], [], []
    for g in range(group.max() + 1):
        tris = hull.simplices[group == g]
        plane = hull.equations[group == g][0]
        ids = np.unique(tris)
        pts = vertices[ids]
        flat = _planar_uv(pts - pts.mean(0), plane[:3])
        order = np.argsort(np.arctan2(flat[:, 1], flat[:, 0]))
        polygon = ids[order]
        polygons.append(list(polygon))
        uvs.append(flat[order])
        planes.append(plane)
    used = np.unique(np.concatenate(polygons))
    remap = -np.ones(len(vertices), dtype=np.int64)
    remap[used] = np.arange(len(used))
    polygons = [list(remap[p]) for p in polygons]
    piece = _piece(vertices[used], polygons, uvs, range(len(polygons)))
    planes = np.array(planes)
    planes[:, 3] = -planes[:, 3]  # scipy stores n.x + off <= 0; keep (n, d) with n.x - d
    return piece, planes


def face_normals(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """(unnormalised Newell normals (F,3), centroids (F,3)) of a piece's polygons."""
    v, sizes, idx = piece.vertices, piece.face_sizes, piece.face_indices
    face = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nxt = np.arange(len(idx)) + 1
    ends = starts + sizes
    nxt[ends - 1] = starts
    a, b = v[idx], v[idx[nxt]]
    normals = np.zeros((len(sizes), 3))
    np.add.at(normals, face, np.cross(a, b))
    centroids = np.zeros((len(sizes), 3))
    np.add.at(centroids, face, a)
    return normals, centroids / sizes[:, None]


def orient_outward(piece: Piece, distance) -> Piece:
    """Flip every polygon whose normal opposes the gradient of ``distance`` (the piece's own SDF).

    The gradient is probed just inside each corner (10% toward the centroid), not at the centroid:
    on a coarse lathe the centroid of a thin wall's face can sit closer to the wall's far side.
    """
    normals, centroids = face_normals(piece)
    face = np.repeat(np.arange(len(piece.face_sizes)), piece.face_sizes)
    probes = piece.vertices[piece.face_indices] * 0.9 + centroids[face] * 0.1
    eps = 1e-6
    base = distance(probes)
    grad = np.stack([distance(probes + eps * e) - base for e in np.eye(3)], axis=1)
    agree = np.zeros(len(piece.face_sizes))
    np.add.at(agree, face, np.einsum("ij,ij->i", normals[face], grad))
    flip = agree < 0
    if not flip.any():
        return piece
    idx, uv = piece.face_indices.copy(), piece.corner_uv.copy()
    starts = np.concatenate([[0], np.cumsum(piece.face_sizes)])
    for f in np.flatnonzero(flip):
        s, e = starts[f], starts[f + 1]
        idx[s:e] = idx[s:e][::-1]
        uv[s:e] = uv[s:e][::-1]
    return Piece(piece.vertices, piece.face_sizes, idx, uv, piece.face_island)
