"""Field-aligned quad remeshers, called in a child process through ``killable.call_in_child``.

Both take a triangle mesh and return ``{"vertices": (V,3) float32, "quads": (F,4) int64}``;
``remesh_batch_child`` runs one of them over many components in one child process. The caller
simplifies each component first with ``field_input`` (a coarse field needs no more detail, and
QuadriFlow's cost grows with its input). This module imports only numpy (and the engine, and
fast-simplification in ``field_input``) so a child starts fast.

- ``instant_meshes``: Instant Meshes (Jakob et al. 2015) via pynanoinstantmeshes. Its extractor
  makes a quad-dominant mesh and then splits every face into quads, so it is asked for a quarter
  of the target.
- ``quadriflow``: QuadriFlow (Huang et al. 2018, the remesher inside Blender) via pyQuadriFlow's
  C library, called with numpy buffers directly (the package's Python wrapper converts through
  Python lists, which is slow on large meshes).
"""
from __future__ import annotations

import ctypes

import numpy as np

from .polymesh import boundary_edge_count


def instant_meshes(vertices: np.ndarray, triangles: np.ndarray, target_faces: int, crease_angle: float = 0.0,
                   align_boundaries: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """Pure-quad remesh with Instant Meshes; about ``target_faces`` quads."""
    import pynanoinstantmeshes

    del seed  # Instant Meshes' deterministic mode is seedless
    verts, quads = pynanoinstantmeshes.remesh(
        np.ascontiguousarray(vertices, dtype=np.float32), np.ascontiguousarray(triangles, dtype=np.uint32),
        -1, rosy=4, posy=4, face_count=max(int(target_faces) // 4, 4), creaseAngle=float(crease_angle),
        align_to_boundaries=bool(align_boundaries), deterministic=True)
    return {"vertices": np.array(verts, dtype=np.float32), "quads": np.array(quads, dtype=np.int64)}


class _MeshData(ctypes.Structure):
    _fields_ = [("nn_verts", ctypes.c_int), ("nn_faces", ctypes.c_int),
                ("vertices", ctypes.POINTER(ctypes.c_float)), ("faces", ctypes.POINTER(ctypes.c_int)),
                ("has_error", ctypes.c_bool), ("str_error", ctypes.c_char_p)]


def quadriflow(vertices: np.ndarray, triangles: np.ndarray, target_faces: int, preserve_sharp: bool = False,
               preserve_boundary: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """Pure-quad remesh with QuadriFlow; about ``target_faces`` quads. Raises RuntimeError on failure."""
    from pyQuadriFlow.clib.load_library import load_library

    lib = load_library()
    fn = lib.remesh_quadriflow
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float),
                   ctypes.POINTER(ctypes.c_int)] + [ctypes.c_bool] * 5
    fn.restype = ctypes.POINTER(_MeshData)
    lib.free_mem.argtypes = [ctypes.POINTER(_MeshData)]
    v = np.ascontiguousarray(vertices, dtype=np.float32)
    t = np.ascontiguousarray(triangles, dtype=np.int32)
    result = fn(int(target_faces), int(seed), len(v), len(t), v.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                t.ctypes.data_as(ctypes.POINTER(ctypes.c_int)), bool(preserve_sharp), bool(preserve_boundary),
                False, False, False)  # adaptive scale (3rd) made no difference on bunny, cow, airplane
    data = result.contents
    try:
        if data.has_error:
            raise RuntimeError(f"QuadriFlow: {data.str_error.decode('ascii', 'replace')}")
        out_v = np.ctypeslib.as_array(data.vertices, shape=(data.nn_verts * 3,)).reshape(-1, 3).copy()
        out_q = np.ctypeslib.as_array(data.faces, shape=(data.nn_faces * 4,)).reshape(-1, 4).astype(np.int64)
    finally:
        lib.free_mem(result)
    return {"vertices": out_v, "quads": out_q}


def field_input(vertices: np.ndarray, triangles: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """The mesh with at most ``most`` triangles (fast quadric simplification, unchanged when already
    smaller): a remesher's field does not need more detail than a few triangles per output face,
    and its cost grows with the input."""
    if len(triangles) <= most:
        return vertices, triangles
    import fast_simplification

    v, t = fast_simplification.simplify(np.ascontiguousarray(vertices, np.float32),
                                        np.ascontiguousarray(triangles, np.int32), target_count=int(most))
    return np.asarray(v, np.float64), np.asarray(t, np.int64)


def remesh_batch_child(vertices: np.ndarray, triangles: np.ndarray, offsets_v: np.ndarray, offsets_t: np.ndarray,
                       budgets: np.ndarray, engine: str, preserve_sharp: bool, crease_angle: float,
                       seed: int = 0) -> dict[str, np.ndarray]:
    """(Runs in the child.) Remesh each component (slices given by offsets) with ``engine``.

    A component whose engine raises gets zero quads; a native crash fails the whole call.
    """
    out_v, out_q, counts_v, counts_q = [], [], [], []
    for i, budget in enumerate(budgets):
        v = vertices[offsets_v[i]:offsets_v[i + 1]]
        t = triangles[offsets_t[i]:offsets_t[i + 1]] - offsets_v[i]
        open_boundary = boundary_edge_count(t) > 0
        try:
            if engine == "quadriflow":
                res = quadriflow(v, t, int(budget), preserve_sharp=preserve_sharp,
                                              preserve_boundary=open_boundary, seed=seed)
            elif engine == "instant_meshes":
                res = instant_meshes(v, t, int(budget), crease_angle=crease_angle if preserve_sharp else 0.0,
                                                  align_boundaries=open_boundary)
            else:
                raise ValueError(f"unknown quad engine {engine!r}")
            rv, rq = res["vertices"], res["quads"]
        except Exception:  # noqa: BLE001 - a failed component is reported through its empty result
            rv, rq = np.zeros((0, 3), np.float32), np.zeros((0, 4), np.int64)
        out_v.append(rv)
        out_q.append(rq)
        counts_v.append(len(rv))
        counts_q.append(len(rq))
    return {"vertices": np.concatenate(out_v).astype(np.float64), "quads": np.concatenate(out_q).astype(np.int64),
            "counts_v": np.array(counts_v, np.int64), "counts_q": np.array(counts_q, np.int64)}
