"""Surface-reconstruction metrics used to evaluate the VAE: F-score, Chamfer, normal consistency.

Both meshes are put in the reference's frame scaled into [-1, 1] (bbox centre at the origin,
longest side spanning 2), then compared through area-weighted surface samples:

- ``fscore``: harmonic mean of precision (share of predicted samples within ``tau`` of the
  reference surface) and recall (the converse); ``tau`` = 0.02 by default.
- ``chamfer``: mean of the two directions' mean point-to-surface distances (L1, same units).
- ``normal_consistency``: mean |cos| between each sample's face normal and its nearest
  counterpart's, averaged over both directions.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass
class SurfaceScores:
    fscore: float
    precision: float
    recall: float
    chamfer: float
    normal_consistency: float

    def as_dict(self) -> dict:
        return {k: round(float(v), 5) for k, v in asdict(self).items()}


def unit_cube_transform(vertices: np.ndarray) -> tuple[np.ndarray, float]:
    """(centre, scale) mapping ``vertices``' bbox into [-1, 1] along its longest side."""
    lo, hi = vertices.min(0), vertices.max(0)
    extent = float((hi - lo).max())
    if not extent > 0:
        raise ValueError("the reference mesh is degenerate (zero extent)")
    return (lo + hi) / 2, 2.0 / extent


def sample_with_normals(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int):
    """Area-weighted surface samples and their (unit) face normals."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    area = np.linalg.norm(cross, axis=1)
    if area.sum() <= 0:
        raise ValueError("mesh has no surface area")
    rng = np.random.default_rng(seed)
    tri = rng.choice(len(f), size=count, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(count)), rng.random(count)
    a, b, c = v[f[tri, 0]], v[f[tri, 1]], v[f[tri, 2]]
    points = (1 - r1)[:, None] * a + (r1 * (1 - r2))[:, None] * b + (r1 * r2)[:, None] * c
    return points, cross[tri] / np.maximum(area[tri, None], 1e-20)


def compare_surfaces(pred_vertices, pred_faces, ref_vertices, ref_faces, tau: float = 0.02,
                     count: int = 30000, seed: int = 0) -> SurfaceScores:
    """Scores of a predicted mesh against a reference mesh (see the module docstring).

    Distances are point-to-surface (samples of one mesh against the other's triangles), so two
    identical surfaces score F = 1 whatever the sample count; normals come from the nearest sample.
    """
    from backend.geometry.surface_distance import SurfaceQuery

    centre, scale = unit_cube_transform(np.asarray(ref_vertices, dtype=np.float64))
    pred_v = (np.asarray(pred_vertices, dtype=np.float64) - centre) * scale
    ref_v = (np.asarray(ref_vertices, dtype=np.float64) - centre) * scale
    pred_points, pred_normals = sample_with_normals(pred_v, pred_faces, count, seed)
    ref_points, ref_normals = sample_with_normals(ref_v, ref_faces, count, seed + 1)
    to_ref = SurfaceQuery(ref_v, ref_faces, samples=count, seed=seed).distance(pred_points)
    to_pred = SurfaceQuery(pred_v, pred_faces, samples=count, seed=seed).distance(ref_points)
    _, ref_index = cKDTree(ref_points).query(pred_points)
    _, pred_index = cKDTree(pred_points).query(ref_points)
    precision = float((to_ref < tau).mean())
    recall = float((to_pred < tau).mean())
    fscore = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    cos_pred = np.abs(np.sum(pred_normals * ref_normals[ref_index], axis=1)).mean()
    cos_ref = np.abs(np.sum(ref_normals * pred_normals[pred_index], axis=1)).mean()
    return SurfaceScores(fscore, precision, recall, 0.5 * (to_ref.mean() + to_pred.mean()),
                         0.5 * (cos_pred + cos_ref))
