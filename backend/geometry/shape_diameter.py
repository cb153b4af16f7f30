"""Shape diameter function (Shapira, Shamir & Cohen-Or 2008): local thickness per face.

From each face centroid, rays in a cone around the inward normal hit the opposite side of the
volume; the median distance is the face's diameter. Thin parts (legs, handles) get small values,
bulky parts (bodies, seats) large ones.
"""
from __future__ import annotations

from typing import Callable

import warnings

import numpy as np

from .raycast import first_hits


def cone_directions(normals: np.ndarray, half_angle_deg: float = 30.0, rays: int = 8) -> np.ndarray:
    """(F, rays+1, 3) unit directions: the inward normal plus a ring around it."""
    inward = -normals
    helper = np.where(np.abs(inward[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = np.cross(inward, helper)
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    w = np.cross(inward, u)
    angles = np.linspace(0.0, 2 * np.pi, rays, endpoint=False)
    tilt = np.radians(half_angle_deg)
    ring = (np.cos(tilt) * inward[:, None, :]
            + np.sin(tilt) * (np.cos(angles)[None, :, None] * u[:, None, :]
                              + np.sin(angles)[None, :, None] * w[:, None, :]))
    return np.concatenate([inward[:, None, :], ring], axis=1)


def shape_diameter(positions: np.ndarray, triangles: np.ndarray, normals: np.ndarray,
                   check: Callable[[], None] | None = None) -> np.ndarray:
    """Per-face shape diameter; faces whose rays all escape (open meshes) get the median value."""
    tri = positions[triangles]
    centroids = tri.mean(axis=1)
    scale = float(np.linalg.norm(positions.max(0) - positions.min(0))) or 1.0
    dirs = cone_directions(normals)
    count = dirs.shape[1]
    origins = np.repeat(centroids - normals * (1e-5 * scale), count, axis=0)
    flat_dirs = dirs.reshape(-1, 3)
    dist, hit = first_hits(origins, flat_dirs, tri, check=check)
    # A valid hit reaches the inside of the opposite wall: its normal points along the ray.
    facing = np.zeros(len(dist), dtype=bool)
    ok = hit >= 0
    facing[ok] = np.einsum("ij,ij->i", normals[hit[ok]], flat_dirs[ok]) > 0
    # Project slanted rays onto the normal so a flat slab measures its true thickness.
    along_normal = np.einsum("ij,ij->i", flat_dirs, np.repeat(-normals, count, axis=0))
    dist = np.where(facing, dist, np.nan) * along_normal
    dist = dist.reshape(-1, count)
    # Shapira et al. keep rays within one standard deviation of the median; nanmedian is close.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-miss faces give NaN, filled below
        sdf = np.nanmedian(dist, axis=1)
    missing = ~np.isfinite(sdf)
    if missing.all():
        return np.full(len(triangles), scale, dtype=np.float64)
    sdf[missing] = np.nanmedian(sdf[~missing])
    return sdf.astype(np.float64)
