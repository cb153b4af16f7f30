"""Boolean difference of low-poly pieces with manifold3d (robust mesh CSG), for ``sdf.Difference``.

The result is one piece: coplanar triangle pairs that form convex quads are merged back into
quads (as a modeller would clean up after a boolean); UV islands are edge-connected runs of faces
facing the same principal axis, projected onto that axis's plane (box mapping without overlaps).
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .lowpoly import Piece


def _triangles(piece: Piece) -> np.ndarray:
    """Fan-triangulate a piece's (convex) polygons, (T,3)."""
    starts = np.concatenate([[0], np.cumsum(piece.face_sizes)[:-1]])
    tris = [(piece.face_indices[s], piece.face_indices[s + k], piece.face_indices[s + k + 1])
            for s, n in zip(starts, piece.face_sizes) for k in range(1, n - 1)]
    return np.array(tris, dtype=np.uint32)


def _manifold(pieces: list[Piece]):
    import manifold3d

    solids = [manifold3d.Manifold(manifold3d.Mesh(
        vert_properties=np.ascontiguousarray(p.vertices, dtype=np.float32),
        tri_verts=np.ascontiguousarray(_triangles(p)))) for p in pieces]
    return manifold3d.Manifold.batch_boolean(solids, manifold3d.OpType.Add) if len(solids) > 1 else solids[0]


def difference_piece(base: list[Piece], cutters: list[Piece]) -> Piece:
    """``base`` minus ``cutters`` as one closed, outward-oriented triangle piece with UVs."""
    result = _manifold(base) - _manifold(cutters)
    mesh = result.to_mesh()
    vertices = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    tris = np.asarray(mesh.tri_verts, dtype=np.int64)
    if len(tris) == 0:
        raise ValueError("the cutters remove the whole shape")
    a, b, c = vertices[tris[:, 0]], vertices[tris[:, 1]], vertices[tris[:, 2]]
    normals = np.cross(b - a, c - a)
    axis = np.abs(normals).argmax(1)
    facing = axis * 2 + (np.take_along_axis(normals, axis[:, None], 1)[:, 0] < 0)
    island = _islands(tris, facing)
    polygons, owner = _merge_quads(vertices, tris, normals)
    plane = np.array([[1, 2], [0, 2], [0, 1]])[axis[owner]]      # the two coordinates kept per face
    flat = np.concatenate(polygons)
    sizes = np.array([len(p) for p in polygons])
    keep = np.repeat(plane, sizes, axis=0)
    uv = np.take_along_axis(vertices[flat], keep, 1)
    return Piece(vertices, sizes, flat, uv, island[owner])


def _merge_quads(vertices: np.ndarray, tris: np.ndarray, normals: np.ndarray) -> tuple[list, np.ndarray]:
    """Greedily pair triangles across shared edges into convex planar quads.

    Returns the polygons and, per polygon, the triangle it came from (for its island and axis).
    """
    unit = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-30)
    where: dict[tuple[int, int], int] = {}
    for t, (x, y, z) in enumerate(tris):
        for u, v in ((x, y), (y, z), (z, x)):
            where[(u, v)] = t
    used = np.zeros(len(tris), dtype=bool)
    polygons, owner = [], []
    for t, tri in enumerate(tris):
        if used[t]:
            continue
        used[t] = True
        merged = None
        for k in range(3):
            y, z = tri[(k + 1) % 3], tri[(k + 2) % 3]
            other = where.get((z, y))
            if other is None or used[other] or unit[t] @ unit[other] < 1 - 1e-9:
                continue
            w = next(i for i in tris[other] if i not in (y, z))
            quad = [tri[k], y, w, z]
            pts = vertices[quad]
            turns = np.cross(np.roll(pts, -1, 0) - pts, np.roll(pts, -2, 0) - np.roll(pts, -1, 0)) @ unit[t]
            if np.all(turns > 1e-12):
                used[other] = True
                merged = quad
                break
        polygons.append(np.array(merged if merged is not None else list(tri)))
        owner.append(t)
    return polygons, np.array(owner)


def _islands(tris: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """Connected components of triangles that share an edge and face the same way."""
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(tris)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, owner = edges[order], owner[order]
    same = np.all(edges[1:] == edges[:-1], axis=1)
    first, second = owner[:-1][same], owner[1:][same]
    keep = facing[first] == facing[second]
    graph = coo_matrix((np.ones(keep.sum()), (first[keep], second[keep])), shape=(len(tris), len(tris)))
    return connected_components(graph, directed=False)[1]
