"""Quadric-error decimation to an exact face count (MeshLab's quadric edge collapse via pymeshlab,
topology-preserving), optional crease preservation, and midpoint subdivision for targets above
the input's count.

MeshLab's collapse was chosen over fast-simplification after measuring both on the corpus: it
never produced non-manifold edges or changed the genus, hits the count exactly, and had 10-25x
lower Hausdorff error on CAD parts (fast-simplification: 3-14% of the diagonal on the bracket).
It runs in a child process (``killable``): it cannot be cancelled from Python otherwise.

Crease preservation: the mesh is cut along its sharp edges (each side gets its own vertex
copies) so the creases become borders, decimated with borders weighted heavily, and welded again.
If the two sides of a crease drifted apart (the weld leaves more open edges than before), the
plain decimation is used instead and the report says so.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from backend.ops.base import CancelToken, ProgressFn, no_progress

from .killable import call_in_child
from .polymesh import bbox_diagonal, compact
from .repair import boundary_edge_count, nonmanifold_edge_count, weld
from .sharp_features import dihedral_angles


def subdivide_to(vertices: np.ndarray, triangles: np.ndarray, min_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint-subdivide (1 triangle -> 4, shape unchanged) until there are >= ``min_faces``."""
    import trimesh.remesh

    v, t = np.asarray(vertices, np.float64), np.asarray(triangles, np.int64)
    while len(t) < min_faces:
        v, t = trimesh.remesh.subdivide(v, t)
    return np.asarray(v, np.float64), np.asarray(t, np.int64)


def split_along_creases(vertices: np.ndarray, triangles: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Give each side of every crease (dihedral > ``angle`` degrees) its own vertices.

    Face corners at one vertex stay one vertex when their faces are joined through smooth edges
    around it; corners separated by creases become separate copies. Returns (V, T, crease count).
    """
    t = np.asarray(triangles, np.int64)
    edges, pairs, angles = dihedral_angles(vertices, t)
    smooth = angles <= angle
    corner = np.arange(3 * len(t)).reshape(-1, 3)
    rows, cols = [], []
    for end in (0, 1):
        vert = edges[smooth, end]
        f, g = pairs[smooth, 0], pairs[smooth, 1]
        rows.append(corner[f, np.argmax(t[f] == vert[:, None], axis=1)])
        cols.append(corner[g, np.argmax(t[g] == vert[:, None], axis=1)])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(3 * len(t), 3 * len(t)))
    _, label = connected_components(graph, directed=False)
    key = np.stack([t.reshape(-1), label], axis=1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    new_vertices = np.asarray(vertices)[t.reshape(-1)[first]]
    return new_vertices, inverse.reshape(-1, 3), int(np.count_nonzero(~smooth))


def _meshlab_qem(vertices: np.ndarray, triangles: np.ndarray, target: int, boundary_weight: float):
    import pymeshlab

    ms = pymeshlab.MeshSet()
    ms.add_mesh(pymeshlab.Mesh(np.asarray(vertices, np.float64), np.asarray(triangles, np.int32)))
    ms.meshing_decimation_quadric_edge_collapse(
        targetfacenum=int(target), qualitythr=0.3, preserveboundary=True, boundaryweight=float(boundary_weight),
        preservetopology=True, optimalplacement=True, planarquadric=True, autoclean=True)
    mesh = ms.current_mesh()
    return compact(mesh.vertex_matrix().astype(np.float64), mesh.face_matrix().astype(np.int64))


def qem_decimate(vertices: np.ndarray, triangles: np.ndarray, target: int, preserve_sharp: bool = False,
                 sharp_angle: float = 30.0, notes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reduce to ``target`` triangles with QEM in this process (no-op at or below it)."""
    v = np.asarray(vertices, np.float64)
    t = np.asarray(triangles, np.int64)
    notes = notes if notes is not None else []
    if len(t) <= target:
        return v, t
    if preserve_sharp:
        sv, st, creases = split_along_creases(v, t, sharp_angle)
        if creases:
            dv, dt = _meshlab_qem(sv, st, target, 1000.0)
            dv, dt, _ = weld(dv, dt, 1e-7 * bbox_diagonal(v))
            dv, dt = compact(dv, dt)
            if (len(dt) <= 1.1 * target and boundary_edge_count(dt) <= boundary_edge_count(t)
                    and nonmanifold_edge_count(dt) == 0):
                notes.append(f"{creases} crease edges kept while decimating")
                return dv, dt
            notes.append(f"{creases} crease edges are too many to lock at this face count; decimated them normally")
    return _meshlab_qem(v, t, target, 1.0)


def decimate_child(vertices: np.ndarray, triangles: np.ndarray, target_faces: int, preserve_sharp: bool,
                   sharp_angle: float) -> dict[str, np.ndarray]:
    """(Runs in the child.) :func:`qem_decimate` with its notes as a string array."""
    notes: list[str] = []
    v, t = qem_decimate(vertices, triangles, target_faces, preserve_sharp, sharp_angle, notes)
    return {"vertices": v, "triangles": t, "notes": np.array(notes, dtype=str)}


def decimate(vertices: np.ndarray, triangles: np.ndarray, target: int, preserve_sharp: bool = False,
             sharp_angle: float = 30.0, report: list[str] | None = None, cancel: CancelToken | None = None,
             progress: ProgressFn = no_progress) -> tuple[np.ndarray, np.ndarray]:
    """:func:`qem_decimate` in a killable child process (cancel returns at once)."""
    if len(triangles) <= target:
        return np.asarray(vertices, np.float64), np.asarray(triangles, np.int64)
    out = call_in_child(__name__, "decimate_child", {"vertices": vertices, "triangles": triangles},
                        {"target_faces": int(target), "preserve_sharp": bool(preserve_sharp),
                         "sharp_angle": float(sharp_angle)}, cancel=cancel, progress=progress,
                        stage="decimating", expected_seconds=1 + len(triangles) / 100_000)
    if report is not None:
        report.extend(str(n) for n in out["notes"])
    return out["vertices"], out["triangles"]
