"""Mesh repair before remeshing: weld, drop degenerate and duplicate faces, split non-manifold
edges, make winding consistent, split into components, fill holes.

Every step appends a plain sentence to a ``report`` list when it changed something, so the op can
tell the user what was done ("12 non-manifold edges repaired").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .polymesh import bbox_diagonal, boundary_edge_count, compact, unique_rows


@dataclass
class TriMesh:
    """A triangle mesh as float64 (V,3) vertices and int64 (T,3) triangles."""

    vertices: np.ndarray
    triangles: np.ndarray

    @property
    def area(self) -> float:
        return float(triangle_areas(self.vertices, self.triangles).sum())


def triangle_areas(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area of every triangle."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def weld(vertices: np.ndarray, triangles: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Merge vertices closer than about ``tolerance`` (grid snapping); returns (V, T, merged count)."""
    keys = np.round(vertices / max(tolerance, 1e-300)).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    merged = len(vertices) - len(first)
    return vertices[first], inverse.reshape(-1)[triangles], merged


def drop_degenerate(vertices: np.ndarray, triangles: np.ndarray, min_area: float) -> tuple[np.ndarray, int, int]:
    """Remove faces with repeated corners or area below ``min_area``, and duplicated faces.

    Returns (triangles, degenerate removed, duplicates removed).
    """
    t = triangles
    repeated = (t[:, 0] == t[:, 1]) | (t[:, 1] == t[:, 2]) | (t[:, 0] == t[:, 2])
    tiny = triangle_areas(vertices, t) <= min_area
    bad = repeated | tiny
    t = t[~bad]
    _, keep = unique_rows(np.sort(t, axis=1), return_index=True)
    keep.sort()
    return t[keep], int(bad.sum()), int(len(t) - len(keep))


def split_nonmanifold_edges(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Detach faces beyond the first two on every edge used by more than two faces.

    Detached faces get their own copies of their corners, so each non-manifold edge becomes a
    manifold edge plus loose faces (removed later as debris or kept as their own pieces).
    Returns (vertices, triangles, number of non-manifold edges).
    """
    t = triangles.copy()
    edges = np.sort(np.stack([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]], axis=1).reshape(-1, 2), axis=1)
    face = np.repeat(np.arange(len(t)), 3)
    _, inverse, counts = unique_rows(edges, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    bad_edges = np.flatnonzero(counts > 2)
    if len(bad_edges) == 0:
        return vertices, t, 0
    order = np.argsort(inverse, kind="stable")
    sorted_edge = inverse[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_edge, sorted_edge)
    detach = np.unique(face[order[(rank >= 2) & np.isin(sorted_edge, bad_edges)]])
    fresh = vertices[t[detach].reshape(-1)]
    t[detach] = len(vertices) + np.arange(3 * len(detach)).reshape(-1, 3)
    return np.concatenate([vertices, fresh]), t, int(len(bad_edges))


def split_pinched_vertices(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Give every fan of faces around a vertex its own copy of it (bow-tie / pinched vertices).

    Corners of one vertex are joined when their faces share an edge at that vertex; each joined
    group becomes one vertex. Returns (vertices, triangles, number of vertices that were split).
    """
    t = np.asarray(triangles, np.int64)
    edges = np.sort(np.stack([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]], axis=1).reshape(-1, 2), axis=1)
    face = np.repeat(np.arange(len(t)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    e, f = edges[order], face[order]
    same = np.flatnonzero(np.all(e[1:] == e[:-1], axis=1))  # consecutive faces sharing an edge
    corner = np.arange(3 * len(t)).reshape(-1, 3)
    rows, cols = [], []
    for end in (0, 1):
        vert = e[same, end]
        fa, fb = f[same], f[same + 1]
        rows.append(corner[fa, np.argmax(t[fa] == vert[:, None], axis=1)])
        cols.append(corner[fb, np.argmax(t[fb] == vert[:, None], axis=1)])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(3 * len(t), 3 * len(t)))
    _, label = connected_components(graph, directed=False)
    key = np.stack([t.reshape(-1), label], axis=1)
    _, first, inverse = unique_rows(key, return_index=True, return_inverse=True)
    original = t.reshape(-1)[first]
    pinched = int(np.count_nonzero(np.bincount(original) > 1))
    if pinched == 0:
        return vertices, t, 0
    return np.asarray(vertices)[original], inverse.reshape(-1, 3), pinched


def component_labels(num_vertices: int, triangles: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components through shared vertices: (count, label of each triangle)."""
    rows = np.repeat(triangles[:, 0], 2)
    cols = triangles[:, 1:].reshape(-1)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(num_vertices, num_vertices))
    count, labels = connected_components(graph, directed=False)
    return count, labels[triangles[:, 0]]


def orient_consistently(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, int]:
    """Make winding consistent per component and outward where the component is closed.

    Returns (triangles, number of faces flipped). Uses trimesh's BFS winding repair.
    """
    directed = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    consistent = len(unique_rows(directed)) == len(directed)
    if consistent:  # the common case: only a closed, inside-out mesh needs flipping
        a, b, c = (vertices[triangles[:, i]] for i in range(3))
        volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum()
        if boundary_edge_count(triangles) == 0 and volume < 0:
            return triangles[:, ::-1].copy(), len(triangles)
        return triangles, 0
    import trimesh

    mesh = trimesh.Trimesh(vertices, triangles, process=False, validate=False)
    before = mesh.faces.copy()
    trimesh.repair.fix_winding(mesh)
    if mesh.is_watertight:
        trimesh.repair.fix_inversion(mesh, multibody=True)
    after = np.asarray(mesh.faces, dtype=np.int64)
    flipped = int(np.count_nonzero(np.any(after != before, axis=1)))
    return after, flipped


def fill_holes(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Close every hole of one connected component with MeshFix (pymeshfix)."""
    import pymeshfix

    fixer = pymeshfix.MeshFix(np.asarray(vertices, np.float64), np.asarray(triangles, np.int32))
    fixer.repair(joincomp=False, remove_smallest_components=False)
    v, t = np.asarray(fixer.points, np.float64), np.asarray(fixer.faces, np.int64)
    if len(t) == 0:
        raise ValueError("MeshFix removed every face")
    return v, t


def clean(vertices: np.ndarray, triangles: np.ndarray, report: list[str],
          tick: Callable[[float, str], None] = lambda fraction, step: None) -> TriMesh:
    """Weld, drop degenerate/duplicate faces, split non-manifold edges, fix winding, compact.

    ``tick(fraction, step)`` is called between steps (progress + cancel check for large meshes).
    """
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    diag = bbox_diagonal(v)
    tick(0.0, "welding")
    v, t, merged = weld(v, t, 1e-7 * diag)
    if merged:
        report.append(f"{merged} duplicate vertices welded")
    t, degenerate, duplicates = drop_degenerate(v, t, (1e-9 * diag) ** 2)
    if degenerate:
        report.append(f"{degenerate} degenerate faces removed")
    if duplicates:
        report.append(f"{duplicates} duplicate faces removed")
    if len(t) == 0:
        raise ValueError("no faces with area left after removing degenerate ones")
    tick(0.3, "non-manifold edges")
    v, t, nonmanifold = split_nonmanifold_edges(v, t)
    if nonmanifold:
        report.append(f"{nonmanifold} non-manifold edges repaired")
    tick(0.5, "non-manifold vertices")
    v, t, pinched = split_pinched_vertices(v, t)
    if pinched:
        report.append(f"{pinched} non-manifold vertices split")
    tick(0.75, "winding")
    t, flipped = orient_consistently(v, t)
    if flipped:
        report.append(f"{flipped} faces flipped to a consistent winding")
    v, t = compact(v, t)
    return TriMesh(v, t)


def split_components(mesh: TriMesh) -> list[TriMesh]:
    """The connected components of ``mesh``, largest area first."""
    count, labels = component_labels(len(mesh.vertices), mesh.triangles)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    parts = []
    for i in range(count):
        v, t = compact(mesh.vertices, mesh.triangles[order[bounds[i]:bounds[i + 1]]])
        parts.append(TriMesh(v, t))
    parts.sort(key=lambda p: -p.area)
    return parts


def triangulate(positions: np.ndarray, face_sizes: np.ndarray, face_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triangles of a polygon mesh, in face order: triangles kept, quads split on their shorter
    diagonal, larger polygons fanned from an added centre vertex (fans from a corner make slivers,
    which change what remeshers produce) unless a fan triangle would face against the polygon's
    normal (concave polygon): then fanned from the first corner. Returns (vertices, triangles)."""
    v = np.asarray(positions, np.float64)
    sizes = np.asarray(face_sizes, np.int64)
    idx = np.asarray(face_indices, np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    faces = np.arange(len(sizes))
    tris = [idx[starts[sizes == 3][:, None] + np.arange(3)]]
    owner = [faces[sizes == 3]]
    q = idx[starts[sizes == 4][:, None] + np.arange(4)]
    short02 = np.linalg.norm(v[q[:, 0]] - v[q[:, 2]], axis=1) <= np.linalg.norm(v[q[:, 1]] - v[q[:, 3]], axis=1)
    first = np.where(short02[:, None], q[:, [0, 1, 2]], q[:, [0, 1, 3]])
    second = np.where(short02[:, None], q[:, [0, 2, 3]], q[:, [1, 2, 3]])
    tris += [first, second]
    owner += [faces[sizes == 4]] * 2
    extra = []
    for face in faces[sizes > 4]:
        ring = idx[starts[face]:starts[face] + sizes[face]]
        pts = v[ring]
        centre = pts.mean(axis=0)
        fan_normals = np.cross(pts - centre, np.roll(pts, -1, axis=0) - centre)
        if np.all(fan_normals @ fan_normals.sum(axis=0) > 0):
            tris.append(np.stack([ring, np.roll(ring, -1), np.full(len(ring), len(v) + len(extra))], axis=1))
            extra.append(centre)
        else:
            tris.append(np.stack([np.full(len(ring) - 2, ring[0]), ring[1:-1], ring[2:]], axis=1))
        owner.append(np.full(len(tris[-1]), face))
    order = np.argsort(np.concatenate(owner), kind="stable")
    if extra:
        v = np.concatenate([v, np.array(extra)])
    return v, np.concatenate(tris).astype(np.int64)[order]
