"""Mirror symmetry for remeshing: keep one half, remesh it, mirror it back and weld the seam.

The mirror plane is perpendicular to the chosen axis through the object's origin (like Blender's
Mirror modifier and QuadriFlow's symmetry option); when the mesh does not cross that plane, through
the centre of its bounding box instead. The positive side is kept.
"""
from __future__ import annotations

import numpy as np

AXES = {"x": 0, "y": 1, "z": 2}


def mirror_plane(vertices: np.ndarray, axis: int) -> tuple[float, bool]:
    """(plane coordinate, True if it is the origin) for mirroring ``vertices`` across ``axis``."""
    lo, hi = float(vertices[:, axis].min()), float(vertices[:, axis].max())
    span = hi - lo
    if lo < -0.05 * span and hi > 0.05 * span:
        return 0.0, True
    return 0.5 * (lo + hi), False


def keep_half(vertices: np.ndarray, triangles: np.ndarray, axis: int, plane: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of the mesh on the positive side of the plane, cut exactly at it (trimesh slicing).

    Cut edges get separate vertices per face from trimesh; callers weld them in repair."""
    from trimesh.intersections import slice_faces_plane

    normal = np.zeros(3)
    normal[axis] = 1.0
    origin = np.zeros(3)
    origin[axis] = plane
    v, t = slice_faces_plane(np.asarray(vertices, np.float64), np.asarray(triangles, np.int64), normal, origin)[:2]
    v = np.asarray(v, np.float64)
    on_plane = np.abs(v[:, axis] - plane) < 1e-9 * max(np.ptp(vertices, axis=0).max(), 1e-30)
    v[on_plane, axis] = plane
    return v, np.asarray(t, np.int64)


def mirror_weld(vertices: np.ndarray, quads: np.ndarray, triangles: np.ndarray, axis: int, plane: float,
                snap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Mirror a half-mesh and weld it to itself along the plane.

    Open-boundary vertices within ``snap`` (at least 3/4 of the mean edge length) of the plane
    are moved onto it and become the seam; other vertices past the plane are pulled just inside.
    Returns (vertices, quads, triangles, number of seam vertices).
    """
    v = np.asarray(vertices, np.float64).copy()
    faces = [np.asarray(quads, np.int64).reshape(-1, 4), np.asarray(triangles, np.int64).reshape(-1, 3)]
    lengths = [np.linalg.norm(v[f] - v[np.roll(f, 1, axis=1)], axis=2).ravel() for f in faces if len(f)]
    mean_edge = float(np.concatenate(lengths).mean()) if lengths else 0.0
    snap = max(snap, 0.75 * mean_edge)
    boundary = _boundary_vertices(faces)
    seam = np.zeros(len(v), bool)
    seam[boundary] = np.abs(v[boundary, axis] - plane) <= snap
    inside = plane + 1e-3 * mean_edge
    v[~seam & (v[:, axis] < inside), axis] = inside
    v[seam, axis] = plane
    on_plane = v[:, axis] == plane
    faces = [f[~np.all(on_plane[f], axis=1)] for f in faces]  # flattened into the plane: drop
    on = np.flatnonzero(on_plane)
    mirrored = v.copy()
    mirrored[:, axis] = 2 * plane - mirrored[:, axis]
    remap = np.arange(len(v)) + len(v)
    remap[on] = on  # seam vertices are shared by both halves
    out_v = np.concatenate([v, mirrored])
    out_q = np.concatenate([faces[0], remap[faces[0]][:, ::-1]])
    out_t = np.concatenate([faces[1], remap[faces[1]][:, ::-1]])
    used, inverse = np.unique(np.concatenate([out_q.reshape(-1), out_t.reshape(-1)]), return_inverse=True)
    split = out_q.size
    return out_v[used], inverse[:split].reshape(-1, 4), inverse[split:].reshape(-1, 3), int(len(on))


def _boundary_vertices(faces: list[np.ndarray]) -> np.ndarray:
    edges = []
    for f in faces:
        if len(f):
            edges.append(np.stack([f, np.roll(f, -1, axis=1)], axis=2).reshape(-1, 2))
    if not edges:
        return np.zeros(0, np.int64)
    e = np.sort(np.concatenate(edges), axis=1)
    uniq, counts = np.unique(e, axis=0, return_counts=True)
    return np.unique(uniq[counts == 1])
