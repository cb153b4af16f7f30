"""UV unwrapping: xatlas in a child process, with a simple always-works fallback atlas.

xatlas segfaults or stalls on some large or broken meshes; running it through
:func:`backend.geometry.isolated.run_isolated` turns that into a fallback instead of a dead
backend. Polygons keep their UVs as polygons wherever xatlas kept all their triangles in one chart.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from shared.payload import MeshPayload

from .isolated import IsolatedFailure, run_isolated

XATLAS_TIMEOUT = 300.0
UV_WORKER = "backend.geometry.uv_worker"


def grid_atlas(num_triangles: int, padding: float = 0.15) -> np.ndarray:
    """Fallback: every triangle gets its own square cell (T,3,2). Distorted but never fails."""
    side = max(1, int(np.ceil(np.sqrt(num_triangles))))
    cell = 1.0 / side
    index = np.arange(num_triangles)
    origin = np.stack([index % side, index // side], axis=1) * cell
    inset = padding * cell
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]) * (cell - 2 * inset) + inset
    return (origin[:, None, :] + corners[None]).astype(np.float32)


def unwrap_triangles(positions: np.ndarray, triangles: np.ndarray, resolution: int = 1024,
                     check: Callable[[], None] | None = None) -> tuple[np.ndarray, str]:
    """Per-corner UVs (T,3,2) for triangles, and a line saying how they were made."""
    try:
        out = run_isolated(UV_WORKER,
                           {"positions": np.asarray(positions, dtype=np.float32),
                            "triangles": np.asarray(triangles, dtype=np.int64)},
                           {"resolution": int(resolution), "padding": max(2, resolution // 256)},
                           check=check, timeout=XATLAS_TIMEOUT)
        uvs = out["corner_uvs"]
        if uvs.shape == (len(triangles), 3, 2) and np.isfinite(uvs).all():
            return uvs, "unwrapped with xatlas"
        reason = f"xatlas returned {uvs.shape} UVs for {len(triangles)} triangles"
    except IsolatedFailure as exc:
        reason = str(exc)
    return grid_atlas(len(triangles)), f"xatlas failed ({reason}); used a per-triangle grid atlas"


def with_triangle_uvs(mesh: MeshPayload, tri_uvs: np.ndarray) -> tuple[MeshPayload, int]:
    """Attach per-triangle UVs to the polygon mesh.

    A polygon whose fan triangles agree on every shared corner keeps its polygon with those
    UVs; one that xatlas split across charts is replaced by its triangles. Returns the new mesh
    and the number of polygons that had to be split.
    """
    sizes = mesh.face_sizes.astype(np.int64)
    starts = mesh.face_offsets()[:-1]
    tri_face = mesh.triangle_face_ids().astype(np.int64)
    first_tri = np.concatenate([[0], np.cumsum(sizes - 2)])[:-1]
    k = np.arange(len(tri_face)) - first_tri[tri_face]
    base = starts[tri_face]
    corner_uvs = np.zeros((len(mesh.face_indices), 2), dtype=np.float64)
    corner_uvs[base] = tri_uvs[:, 0]
    corner_uvs[base + k + 1] = tri_uvs[:, 1]
    corner_uvs[base + k + 2] = tri_uvs[:, 2]
    rebuilt = np.stack([corner_uvs[base], corner_uvs[base + k + 1], corner_uvs[base + k + 2]], axis=1)
    bad_tri = np.abs(rebuilt - tri_uvs).max(axis=(1, 2)) > 1e-6
    bad_face = np.zeros(len(sizes), dtype=bool)
    bad_face[tri_face[bad_tri]] = True
    if not bad_face.any():
        return _replace(mesh, mesh.face_sizes, mesh.face_indices, corner_uvs, mesh.part_ids), 0
    triangles = mesh.triangulated()
    keep_corner = np.repeat(~bad_face, sizes)
    split_tri = bad_face[tri_face]
    # Faces stay in order: each split polygon is replaced in place by its triangles.
    new_sizes = np.where(bad_face, 3, sizes)
    counts = np.where(bad_face, sizes - 2, 1)
    face_sizes = np.repeat(new_sizes, counts).astype(np.int32)
    owner = np.repeat(np.arange(len(sizes)), counts)
    pieces_idx, pieces_uv = [], []
    order_key = []
    pieces_idx.append(mesh.face_indices[keep_corner])
    pieces_uv.append(corner_uvs[keep_corner])
    order_key.append(np.repeat(np.arange(len(sizes))[~bad_face], sizes[~bad_face]).astype(np.float64))
    pieces_idx.append(triangles[split_tri].reshape(-1))
    pieces_uv.append(tri_uvs[split_tri].reshape(-1, 2))
    sub = (k[split_tri] / np.maximum(sizes[tri_face[split_tri]], 1))
    order_key.append(np.repeat(tri_face[split_tri] + sub * 0.5, 3))
    key = np.concatenate(order_key)
    corner_rank = np.concatenate([np.arange(len(p)) for p in pieces_idx[:1]] + [np.tile([0, 1, 2], int(split_tri.sum()))])
    order = np.lexsort((corner_rank, key))
    face_indices = np.concatenate(pieces_idx)[order].astype(np.int32)
    uvs = np.concatenate(pieces_uv)[order]
    part_ids = None if mesh.part_ids is None else mesh.part_ids[owner].astype(np.int32)
    return _replace(mesh, face_sizes, face_indices, uvs, part_ids), int(bad_face.sum())


def _replace(mesh: MeshPayload, sizes, indices, uvs, part_ids) -> MeshPayload:
    return MeshPayload(positions=mesh.positions, face_sizes=np.asarray(sizes, dtype=np.int32),
                       face_indices=np.asarray(indices, dtype=np.int32),
                       corner_uvs=np.asarray(uvs, dtype=np.float32), part_ids=part_ids,
                       part_names=list(mesh.part_names), part_materials=list(mesh.part_materials),
                       materials=list(mesh.materials), textures=dict(mesh.textures), info=dict(mesh.info))
