"""Creases of a triangle mesh: face normals and the dihedral angle across every manifold edge."""
from __future__ import annotations

import numpy as np


def face_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unit normals (zero for degenerate faces)."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    n = np.cross(b - a, c - a)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, length, out=np.zeros_like(n), where=length > 0)


def interior_edges(triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges shared by exactly two triangles: (E,2) sorted vertex pairs and (E,2) face pairs."""
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    face = np.repeat(np.arange(len(triangles)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, face = edges[order], face[order]
    same_next = np.all(edges[1:] == edges[:-1], axis=1)
    start = np.flatnonzero(same_next)
    # keep only edges used exactly twice: the pair (i, i+1) must not continue into i+2 or come from i-1
    ok = np.ones(len(start), bool)
    ok &= ~np.isin(start + 1, start)
    ok &= ~np.isin(start - 1, start)
    start = start[ok]
    return edges[start], np.stack([face[start], face[start + 1]], axis=1)


def dihedral_angles(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every interior edge: (edges, face pairs, angle in degrees between the two face normals)."""
    edges, pairs = interior_edges(triangles)
    normals = face_normals(vertices, triangles)
    cos = np.clip(np.einsum("ij,ij->i", normals[pairs[:, 0]], normals[pairs[:, 1]]), -1.0, 1.0)
    return edges, pairs, np.degrees(np.arccos(cos))
