"""Triangle-mesh connectivity for segmentation: welding, the face dual graph, components.

Everything here is vectorised numpy/scipy; meshes of a million faces take seconds, not minutes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def weld(positions: np.ndarray, triangles: np.ndarray, tolerance: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices closer than ``tolerance`` x bbox diagonal; returns (positions, triangles).

    Meshes split at UV seams or exported per-face have duplicate vertices that would otherwise
    cut the surface into many false components.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if len(positions) == 0:
        return positions, np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    diag = float(np.linalg.norm(positions.max(0) - positions.min(0))) or 1.0
    keys = np.round((positions - positions.min(0)) / (diag * tolerance)).astype(np.int64)
    if int(keys.max()) < 1 << 21:  # one int64 per vertex, same order as the rows: ~10x faster
        keys = (keys[:, 0] << 42) | (keys[:, 1] << 21) | keys[:, 2]
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return positions[first], inverse.reshape(-1)[np.asarray(triangles, dtype=np.int64)].reshape(-1, 3)


@dataclass
class FaceGraph:
    """The dual graph of a triangle mesh: one node per face, one edge per shared mesh edge.

    ``pairs`` (E,2) face indices; ``edge_length`` (E,) length of the shared edge;
    ``angle`` (E,) angle between the two face normals in radians; ``concave`` (E,) bool.
    """

    num_faces: int
    pairs: np.ndarray
    edge_length: np.ndarray
    angle: np.ndarray
    concave: np.ndarray
    normals: np.ndarray
    centroids: np.ndarray
    areas: np.ndarray


def face_normals_areas(positions: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit face normals (zero for degenerate faces) and face areas."""
    tri = positions[triangles]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(cross, axis=1)
    normals = np.divide(cross, norm[:, None], out=np.zeros_like(cross), where=norm[:, None] > 0)
    return normals, 0.5 * norm


def face_graph(positions: np.ndarray, triangles: np.ndarray) -> FaceGraph:
    """Build the dual graph. Non-manifold edges (3+ faces) link their faces in a chain."""
    triangles = np.asarray(triangles, dtype=np.int64)
    num_faces = len(triangles)
    normals, areas = face_normals_areas(positions, triangles)
    centroids = positions[triangles].mean(axis=1)
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    faces = np.tile(np.arange(num_faces), 3)
    edges.sort(axis=1)
    keys = edges[:, 0] * (int(edges.max(initial=0)) + 1) + edges[:, 1]
    order = np.argsort(keys, kind="stable")
    keys, faces, edges = keys[order], faces[order], edges[order]
    same = keys[1:] == keys[:-1]
    a, b = faces[:-1][same], faces[1:][same]
    keep = a != b
    a, b, shared = a[keep], b[keep], edges[:-1][same][keep]
    pairs = np.stack([a, b], axis=1)
    edge_length = np.linalg.norm(positions[shared[:, 0]] - positions[shared[:, 1]], axis=1)
    cos = np.clip(np.einsum("ij,ij->i", normals[a], normals[b]), -1.0, 1.0)
    angle = np.arccos(cos)
    bend = np.einsum("ij,ij->i", normals[a], centroids[b] - centroids[a])
    concave = bend > 1e-9 * max(float(edge_length.mean()) if len(edge_length) else 1.0, 1e-12)
    return FaceGraph(num_faces, pairs, edge_length, angle, concave, normals, centroids, areas)


def components(num_faces: int, pairs: np.ndarray, mask: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """Connected components of the dual graph (optionally only along edges where ``mask``)."""
    if mask is not None:
        pairs = pairs[mask]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(num_faces, num_faces))
    count, labels = connected_components(graph, directed=False)
    return int(count), labels.astype(np.int64)


def split_into_connected(labels: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Relabel so that every label is one connected region (0..n-1)."""
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    _, regions = components(len(labels), pairs, same)
    return regions
