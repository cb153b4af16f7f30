"""Point-to-surface distances: exact point-triangle distance refined from a KD-tree of surface samples.

Used by the metrics (Hausdorff, Chamfer) and by remesh quality checks. Distances are exact whenever
the nearest triangle is among the ``k`` triangles owning the nearest samples, an upper bound otherwise;
every triangle owns its centroid and three near-corner samples, so in practice it is exact.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def closest_points_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest point on triangle (a,b,c) to p, row by row (all arrays (N,3)); Ericson's regions."""
    ab, ac, ap = b - a, c - a, p - a
    d1 = np.einsum("ij,ij->i", ab, ap)
    d2 = np.einsum("ij,ij->i", ac, ap)
    bp = p - b
    d3 = np.einsum("ij,ij->i", ab, bp)
    d4 = np.einsum("ij,ij->i", ac, bp)
    cp = p - c
    d5 = np.einsum("ij,ij->i", ab, cp)
    d6 = np.einsum("ij,ij->i", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2

    denom = va + vb + vc
    safe = np.where(np.abs(denom) > 1e-300, denom, 1.0)
    v = vb / safe
    w = vc / safe
    result = a + ab * v[:, None] + ac * w[:, None]  # interior

    def put(mask, value):
        result[mask] = value[mask] if value.ndim == 2 else value

    with np.errstate(divide="ignore", invalid="ignore"):
        # edge bc
        m = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)
        t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        put(m, b + (c - b) * np.nan_to_num(t)[:, None])
        # edge ac
        m = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
        t = d2 / (d2 - d6)
        put(m, a + ac * np.nan_to_num(t)[:, None])
        # edge ab
        m = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
        t = d1 / (d1 - d3)
        put(m, a + ab * np.nan_to_num(t)[:, None])
    # vertex regions last: they take precedence
    put((d6 >= 0) & (d5 <= d6), c)
    put((d3 >= 0) & (d4 <= d3), b)
    put((d1 <= 0) & (d2 <= 0), a)
    return result


def sample_surface(vertices: np.ndarray, triangles: np.ndarray, count: int,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` area-weighted random points on the triangles, and the triangle each lies on."""
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    total = area.sum()
    rng = np.random.default_rng(seed)
    if total <= 0 or count <= 0:
        return np.zeros((0, 3)), np.zeros(0, np.int64)
    tri = rng.choice(len(t), size=count, p=area / total)
    r1 = np.sqrt(rng.random(count))
    r2 = rng.random(count)
    points = (1 - r1)[:, None] * a[tri] + (r1 * (1 - r2))[:, None] * b[tri] + (r1 * r2)[:, None] * c[tri]
    return points, tri


def _edge_samples(corners: np.ndarray, per_diagonal: int = 400, cap: int = 64,
                  long_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Points along every triangle edge longer than diagonal/per_diagonal (``long_only``: spaced
    at least twice the median edge apart), owned by that triangle.

    Long thin triangles (CAD tessellations) are far from their own centroid samples; edge samples
    keep them findable.
    """
    flat = corners.reshape(-1, 3)
    spacing = np.linalg.norm(flat.max(axis=0) - flat.min(axis=0)) / per_diagonal
    start = corners
    end = np.roll(corners, -1, axis=1)
    length = np.linalg.norm(end - start, axis=2).reshape(-1)
    if long_only:
        spacing = max(spacing, 2 * float(np.median(length)))
    count = np.minimum(np.floor(length / max(spacing, 1e-30)), cap).astype(np.int64)
    edge = np.repeat(np.arange(len(length)), count)
    if len(edge) == 0:
        return np.zeros((0, 3)), np.zeros(0, np.int64)
    rank = np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count)
    t = (rank + 0.5) / count[edge]
    s, e = start.reshape(-1, 3)[edge], end.reshape(-1, 3)[edge]
    return s + (e - s) * t[:, None], edge // 3


class SurfaceQuery:
    """Answers distance-to-surface queries for one triangle mesh."""

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray, samples: int = 100_000, k: int = 8,
                 seed: int = 0, thorough: bool = True):
        """``thorough=False`` indexes each triangle's centroid and points along only the edges
        longer than twice the median edge (not every triangle's corners and edges): a build several
        times faster on dense meshes, for projections that can live with a rare near-miss (pass
        ``samples`` to cover coarse meshes of large triangles)."""
        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.triangles = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
        if len(self.triangles) == 0:
            raise ValueError("cannot measure distance to a mesh without faces")
        corners = self.vertices[self.triangles]  # (T,3,3)
        # every triangle owns its centroid and three points near its corners, so slivers are found
        weights = np.array([[1 / 3, 1 / 3, 1 / 3], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
        weights = weights if thorough else weights[:1]
        own = np.einsum("wc,tcd->wtd", weights, corners).reshape(-1, 3)
        extra, extra_tri = sample_surface(self.vertices, self.triangles, samples, seed)
        edge_pts, edge_tri = _edge_samples(corners, long_only=not thorough)
        self.owner = np.concatenate([np.tile(np.arange(len(self.triangles)), len(weights)), extra_tri, edge_tri])
        self.tree = cKDTree(np.concatenate([own, extra, edge_pts]))
        self.k = min(k, len(self.owner))

    def distance(self, points: np.ndarray, chunk: int = 50_000) -> np.ndarray:
        """Unsigned distance from each point (N,3) to the surface.

        The farthest 1% of points (the ones a Hausdorff distance depends on) are re-checked
        against 8x more candidate triangles.
        """
        _, _, dist = self._nearest(points, chunk)
        return dist

    def closest_points(self, points: np.ndarray, chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
        """The closest surface point to each point (N,3) and the triangle it lies on (same search
        as :meth:`distance`)."""
        closest, tri, _ = self._nearest(points, chunk)
        return closest, tri

    def _nearest(self, points: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        closest = np.empty_like(points)
        tri = np.empty(len(points), np.int64)
        dist = np.empty(len(points))
        for start in range(0, len(points), chunk):
            sel = slice(start, start + chunk)
            closest[sel], tri[sel], dist[sel] = self._closest(points[sel], self.k)
        if len(points):
            far = np.flatnonzero(dist >= np.quantile(dist, 0.99))
            wide = min(8 * self.k, len(self.owner))
            for start in range(0, len(far), chunk // 8):
                sel = far[start:start + chunk // 8]
                c, t, d = self._closest(points[sel], wide)
                better = d < dist[sel]
                sel = sel[better]
                closest[sel], tri[sel], dist[sel] = c[better], t[better], d[better]
        return closest, tri, dist

    def _closest(self, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, nearest = self.tree.query(p, k=k)
        cand = self.owner[nearest.reshape(len(p), k)]
        tri = self.triangles[cand.reshape(-1)]
        rep = np.repeat(p, k, axis=0)
        closest = closest_points_on_triangles(rep, self.vertices[tri[:, 0]], self.vertices[tri[:, 1]],
                                              self.vertices[tri[:, 2]])
        dist = np.linalg.norm(rep - closest, axis=1).reshape(len(p), k)
        best = dist.argmin(axis=1)
        rows = np.arange(len(p))
        return closest.reshape(len(p), k, 3)[rows, best], cand[rows, best], dist[rows, best]
