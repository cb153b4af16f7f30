"""A small vectorised software rasterizer: which triangle covers each pixel, with barycentrics.

Serves two jobs: texel maps (triangles drawn in UV space, no depth) and camera renders / depth
maps for visibility (triangles drawn in screen space with a z-buffer). Pixel (row i, column j)
has its centre at x = j + 0.5, y = i + 0.5; y grows downwards.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

_CANDIDATES = 1_000_000  # candidate pixels tested per batch (bounds memory and time between checks)


@dataclass
class Raster:
    """``face`` (H,W) int64 triangle index or -1; ``bary`` (H,W,3); ``depth`` (H,W) (inf if empty)."""

    face: np.ndarray
    bary: np.ndarray
    depth: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return self.face >= 0


def rasterize(xy: np.ndarray, width: int, height: int, depth: np.ndarray | None = None,
              check: Callable[[], None] | None = None) -> Raster:
    """Rasterize triangles given as pixel coordinates ``xy`` (T,3,2), optional per-vertex ``depth`` (T,3).

    With depth, the nearest triangle wins each pixel; without, the last one drawn does
    (UV charts do not overlap, so it does not matter there).
    """
    xy = np.asarray(xy, dtype=np.float64)
    face = np.full(height * width, -1, dtype=np.int64)
    bary = np.zeros((height * width, 3), dtype=np.float64)
    zbuf = np.full(height * width, np.inf)
    if len(xy) == 0:
        return Raster(face.reshape(height, width), bary.reshape(height, width, 3), zbuf.reshape(height, width))
    x0 = np.clip(np.floor(xy[:, :, 0].min(1) - 0.5).astype(np.int64), 0, width - 1)
    x1 = np.clip(np.ceil(xy[:, :, 0].max(1) - 0.5).astype(np.int64), 0, width - 1)
    y0 = np.clip(np.floor(xy[:, :, 1].min(1) - 0.5).astype(np.int64), 0, height - 1)
    y1 = np.clip(np.ceil(xy[:, :, 1].max(1) - 0.5).astype(np.int64), 0, height - 1)
    outside = ((xy[:, :, 0].max(1) < 0) | (xy[:, :, 0].min(1) > width)
               | (xy[:, :, 1].max(1) < 0) | (xy[:, :, 1].min(1) > height))
    if depth is not None:
        outside |= ~np.isfinite(depth).all(1) | (np.asarray(depth).max(1) <= 0)
    bw = np.where(outside, 0, x1 - x0 + 1)
    bh = np.where(outside, 0, y1 - y0 + 1)
    count = bw * bh
    order = np.flatnonzero(count > 0)
    cumulative = np.cumsum(count[order])
    start = 0
    while start < len(order):
        if check is not None:
            check()
        base = cumulative[start - 1] if start > 0 else 0
        stop = int(np.searchsorted(cumulative, base + _CANDIDATES, side="right"))
        stop = max(stop, start + 1)
        tris = order[start:stop]
        n = count[tris]
        tri = np.repeat(tris, n)
        local = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        px = x0[tri] + local % bw[tri]
        py = y0[tri] + local // bw[tri]
        a, b, c = xy[tri, 0], xy[tri, 1], xy[tri, 2]
        cx, cy = px + 0.5, py + 0.5
        area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        w0 = (b[:, 0] - cx) * (c[:, 1] - cy) - (b[:, 1] - cy) * (c[:, 0] - cx)
        w1 = (c[:, 0] - cx) * (a[:, 1] - cy) - (c[:, 1] - cy) * (a[:, 0] - cx)
        ok = np.abs(area) > 1e-12
        safe = np.where(ok, area, 1.0)
        l0, l1 = w0 / safe, w1 / safe
        l2 = 1.0 - l0 - l1
        eps = -1e-7
        inside = ok & (l0 >= eps) & (l1 >= eps) & (l2 >= eps)
        tri, px, py, lam = tri[inside], px[inside], py[inside], np.stack([l0, l1, l2], 1)[inside]
        pixel = py * width + px
        if depth is not None:
            z = (lam * depth[tri]).sum(1)
            front = z > 0
            tri, pixel, lam, z = tri[front], pixel[front], lam[front], z[front]
            sort = np.lexsort((z, pixel))
            pixel, tri, lam, z = pixel[sort], tri[sort], lam[sort], z[sort]
            first = np.ones(len(pixel), dtype=bool)
            first[1:] = pixel[1:] != pixel[:-1]
            pixel, tri, lam, z = pixel[first], tri[first], lam[first], z[first]
            nearer = z < zbuf[pixel]
            pixel, tri, lam, z = pixel[nearer], tri[nearer], lam[nearer], z[nearer]
            zbuf[pixel] = z
        face[pixel] = tri
        bary[pixel] = lam
        start = stop
    return Raster(face.reshape(height, width), bary.reshape(height, width, 3), zbuf.reshape(height, width))
