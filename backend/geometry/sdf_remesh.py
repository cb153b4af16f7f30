"""Voxel (SDF) remesh: rebuild a clean, closed, manifold surface from any triangle soup.

The last resort before low-poly when the field remeshers reject a component (self-intersections,
leftover non-manifold geometry, soups). Distance to the input comes from a KD-tree of dense
surface samples; the sign from a flood fill of the outside through voxels the surface does not
touch, surface voxels taking the side of their nearest clear voxel. A mesh with leaks (open sheets) has no
inside: it is rebuilt as a thin closed shell around the sheet. Marching cubes by scikit-image.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from backend.runtime import CancelToken

from .polymesh import bbox_diagonal, compact
from .repair import TriMesh, component_labels, triangle_areas

RESOLUTION = 128


def sdf_remesh(mesh: TriMesh, resolution: int = RESOLUTION, cancel: CancelToken | None = None) -> TriMesh:
    """A closed surface within about one voxel (diagonal / ``resolution``) of ``mesh``."""
    from skimage.measure import marching_cubes

    v, t = mesh.vertices, mesh.triangles
    diag = bbox_diagonal(v)
    if diag <= 0 or len(t) == 0:
        raise ValueError("cannot voxel-remesh an empty or zero-size mesh")
    h = diag / resolution
    lo = v.min(axis=0) - 3 * h
    shape = tuple(np.ceil((v.max(axis=0) + 3 * h - lo) / h).astype(int) + 1)
    samples = grid_samples(v, t, 0.5 * h)
    if cancel is not None:
        cancel.check()
    # coarse distance everywhere: Euclidean distance transform of the voxels the samples touch
    occupied = np.zeros(shape, bool)
    cells = np.clip(np.round((samples - lo) / h).astype(np.int64), 0, np.array(shape) - 1)
    occupied[cells[:, 0], cells[:, 1], cells[:, 2]] = True
    dist = ndimage.distance_transform_edt(~occupied) * h
    band = dist <= 2 * h
    band_idx = np.flatnonzero(band)
    band_pts = lo + h * np.stack(np.unravel_index(band_idx, shape), axis=1)
    tree = cKDTree(samples)
    for start in range(0, len(band_idx), 200_000):
        if cancel is not None:
            cancel.check()
        dist.flat[band_idx[start:start + 200_000]] = tree.query(band_pts[start:start + 200_000])[0]
    # outside: what a flood fill from the grid border reaches without crossing a surface voxel
    labels, _ = ndimage.label(~occupied)
    border = np.unique(np.concatenate([labels[0].ravel(), labels[-1].ravel(), labels[:, 0].ravel(),
                                       labels[:, -1].ravel(), labels[:, :, 0].ravel(), labels[:, :, -1].ravel()]))
    outside = np.isin(labels, border[border > 0])
    inside = ~outside & ~occupied
    if inside.any():
        # surface voxels take the side of the nearest voxel that is clearly inside or outside
        nearest = ndimage.distance_transform_edt(occupied, return_distances=False, return_indices=True)
        sign = np.where(outside[tuple(nearest)], 1.0, -1.0)
        field, level = sign * dist, 0.0
    else:
        field, level = dist, h
    verts, faces, _, _ = marching_cubes(field, level=level, spacing=(h, h, h))
    verts = (verts + lo).astype(np.float64)
    faces = faces.astype(np.int64)
    if _signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1]
    return _drop_crumbs(TriMesh(*compact(verts, faces)))


def _signed_volume(vertices: np.ndarray, triangles: np.ndarray) -> float:
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def grid_samples(vertices: np.ndarray, triangles: np.ndarray, spacing: float) -> np.ndarray:
    """Points covering every triangle with gaps below ``spacing``: rows parallel to its longest
    edge, stepping towards the opposite corner (so slivers cost only their length)."""
    corners = vertices[triangles]
    lengths = np.linalg.norm(corners - np.roll(corners, -1, axis=1), axis=2)  # edge k: corner k -> k+1
    k = np.argmax(lengths, axis=1)
    rows = np.arange(len(triangles))
    a, b, c = corners[rows, k], corners[rows, (k + 1) % 3], corners[rows, (k + 2) % 3]
    longest = lengths[rows, k]
    height = np.linalg.norm(np.cross(b - a, c - a), axis=1) / np.maximum(longest, 1e-300)
    nu = np.clip(np.ceil(longest / spacing), 1, 4096).astype(np.int64) + 1
    nv = np.clip(np.ceil(height / spacing), 1, 4096).astype(np.int64) + 1
    per = nu * nv
    tri = np.repeat(rows, per)
    local = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
    u = (local % nu[tri]) / (nu[tri] - 1)
    v = (local // nu[tri]) / (nv[tri] - 1)
    base = a[tri] + u[:, None] * (b[tri] - a[tri])
    return np.concatenate([vertices, base + v[:, None] * (c[tri] - base)])


def _drop_crumbs(mesh: TriMesh) -> TriMesh:
    """Remove components under 1% of the largest one's area (marching-cubes specks)."""
    count, labels = component_labels(len(mesh.vertices), mesh.triangles)
    if count <= 1:
        return mesh
    areas = np.bincount(labels, weights=triangle_areas(mesh.vertices, mesh.triangles), minlength=count)
    keep = areas[labels] >= 0.01 * areas.max()
    return TriMesh(*compact(mesh.vertices, mesh.triangles[keep]))
