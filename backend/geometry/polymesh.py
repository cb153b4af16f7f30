"""Small vectorised helpers on polygon meshes (MeshPayload arrays): edges, welding, conversion.

Every function here takes plain numpy arrays so repair, remesh and metrics code can share them
without caring whether a mesh came from the wire, a file or a library.
"""
from __future__ import annotations

import numpy as np

from shared.payload import MeshPayload


def unique_rows(rows: np.ndarray, return_index: bool = False, return_inverse: bool = False,
                return_counts: bool = False):
    """``np.unique(rows, axis=0, ...)`` for non-negative integer rows, several times faster: each
    row is packed into one int64 key when the values allow it."""
    rows = np.asarray(rows)
    width = rows.shape[1] if rows.ndim == 2 else 1
    top = int(rows.max()) + 1 if rows.size else 1
    if rows.size and rows.min() < 0 or top ** width >= 2 ** 62:
        return np.unique(rows, axis=0, return_index=return_index, return_inverse=return_inverse,
                         return_counts=return_counts)
    key = np.zeros(len(rows), np.int64)
    for c in range(width):
        key = key * top + rows[:, c].astype(np.int64)
    _, index, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    out = [rows[index]]
    if return_index:
        out.append(index)
    if return_inverse:
        out.append(inverse.reshape(-1))
    if return_counts:
        out.append(counts)
    return out[0] if len(out) == 1 else tuple(out)


def corner_edges(face_sizes: np.ndarray, face_indices: np.ndarray) -> np.ndarray:
    """Directed edges (N,2) of a polygon mesh, one per face corner: corner i -> next corner."""
    sizes = np.asarray(face_sizes, dtype=np.int64)
    idx = np.asarray(face_indices, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nxt = np.arange(len(idx), dtype=np.int64) + 1
    last = starts + sizes - 1
    nxt[last] = starts
    return np.stack([idx, idx[nxt]], axis=1)


def undirected_edges(face_sizes: np.ndarray, face_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique undirected edges (E,2) sorted per row, and how many face corners use each one."""
    directed = corner_edges(face_sizes, face_indices)
    directed = directed[directed[:, 0] != directed[:, 1]]
    keyed = np.sort(directed, axis=1)
    edges, counts = unique_rows(keyed, return_counts=True)
    return edges, counts


def weld_positions(positions: np.ndarray, face_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices with bit-identical positions; returns (positions, remapped face indices)."""
    unique, inverse = np.unique(np.asarray(positions), axis=0, return_inverse=True)
    return unique, inverse.reshape(-1)[np.asarray(face_indices, dtype=np.int64)]


def payload_from_mixed(vertices: np.ndarray, tris: np.ndarray, quads: np.ndarray,
                       info: dict | None = None) -> MeshPayload:
    """A MeshPayload holding (T,3) triangles followed by (Q,4) quads, built without Python loops."""
    tris = np.asarray(tris, dtype=np.int32).reshape(-1, 3)
    quads = np.asarray(quads, dtype=np.int32).reshape(-1, 4)
    sizes = np.concatenate([np.full(len(tris), 3, np.int32), np.full(len(quads), 4, np.int32)])
    flat = np.concatenate([tris.reshape(-1), quads.reshape(-1)]).astype(np.int32)
    return MeshPayload(positions=np.asarray(vertices, dtype=np.float32).reshape(-1, 3),
                       face_sizes=sizes, face_indices=flat, info=dict(info or {}))


def compact(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices no face uses; returns (vertices, faces) with faces re-indexed."""
    faces = np.asarray(faces, dtype=np.int64)
    used, inverse = np.unique(faces.reshape(-1), return_inverse=True)
    return np.asarray(vertices)[used], inverse.reshape(faces.shape)


def bbox_diagonal(positions: np.ndarray) -> float:
    """Length of the axis-aligned bounding box diagonal (0 for an empty array)."""
    if len(positions) == 0:
        return 0.0
    pos = np.asarray(positions, dtype=np.float64)
    return float(np.linalg.norm(pos.max(axis=0) - pos.min(axis=0)))


def euler_characteristic(triangles: np.ndarray) -> int:
    """V - E + F of a triangle mesh (vertices counted only when used)."""
    edges = unique_rows(np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1))
    return int(len(np.unique(triangles)) - len(edges) + len(triangles))


def boundary_edge_count(triangles: np.ndarray) -> int:
    """Edges used by exactly one triangle."""
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = unique_rows(edges, return_counts=True)
    return int(np.count_nonzero(counts == 1))


def nonmanifold_edge_count(triangles: np.ndarray) -> int:
    """Edges used by more than two triangles."""
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = unique_rows(edges, return_counts=True)
    return int(np.count_nonzero(counts > 2))
