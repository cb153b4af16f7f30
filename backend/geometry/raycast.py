"""Brute-force first-hit ray casting with torch (CPU threads, or CUDA when present).

Meant for proxy meshes of a few thousand triangles (shape diameter, visibility checks): a
Moller-Trumbore test of every ray against every triangle, chunked so memory stays bounded.
trimesh's pure-Python intersector is ~100x slower here and embree is not a dependency.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def first_hits(origins: np.ndarray, directions: np.ndarray, triangles: np.ndarray,
               check: Callable[[], None] | None = None, budget: int = 4_000_000,
               device: torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distance along each ray to the nearest triangle hit, and that triangle's index.

    ``origins``/``directions`` (R,3), ``triangles`` (T,3,3). Directions need not be unit length
    (distances are in units of |direction|). Misses give distance ``inf`` and index ``-1``.
    ``check`` is called between chunks (pass a cancel token's ``check``).
    """
    device = device or default_device()
    tri = torch.as_tensor(np.asarray(triangles, dtype=np.float32), device=device)
    v0 = tri[:, 0]
    e1 = tri[:, 1] - v0
    e2 = tri[:, 2] - v0
    num_rays = len(origins)
    dist = np.full(num_rays, np.inf, dtype=np.float32)
    index = np.full(num_rays, -1, dtype=np.int64)
    if num_rays == 0 or len(tri) == 0:
        return dist, index
    chunk = max(1, budget // max(len(tri), 1))
    eps = 1e-9
    for start in range(0, num_rays, chunk):
        if check is not None:
            check()
        o = torch.as_tensor(np.asarray(origins[start:start + chunk], dtype=np.float32), device=device)
        d = torch.as_tensor(np.asarray(directions[start:start + chunk], dtype=np.float32), device=device)
        p = torch.cross(d[:, None, :].expand(-1, len(tri), -1), e2[None].expand(len(d), -1, -1), dim=2)
        det = (e1[None] * p).sum(-1)
        inv = 1.0 / torch.where(det.abs() < eps, torch.full_like(det, eps), det)
        s = o[:, None, :] - v0[None]
        u = (s * p).sum(-1) * inv
        q = torch.cross(s, e1[None].expand(len(d), -1, -1), dim=2)
        v = (d[:, None, :] * q).sum(-1) * inv
        t = (e2[None] * q).sum(-1) * inv
        ok = (det.abs() > eps) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
        t = torch.where(ok, t, torch.full_like(t, float("inf")))
        best, arg = t.min(dim=1)
        best = best.cpu().numpy()
        arg = arg.cpu().numpy()
        hit = np.isfinite(best)
        dist[start:start + chunk] = best
        index[start:start + chunk] = np.where(hit, arg, -1)
    return dist, index
