"""Signed distance -> triangle mesh by hierarchical marching cubes.

A coarse grid is evaluated everywhere; then, level by level, only the cells near the zero level
are subdivided and their new corners evaluated (batched calls to the SDF). Values elsewhere are
trilinearly interpolated from the coarser level, which cannot create a zero crossing inside a
cell whose corners all have one sign. scikit-image's marching cubes runs on the finest grid,
restricted to the refined cells. Convention: negative inside, positive outside.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

SdfFn = Callable[[np.ndarray], np.ndarray]
"""Takes (N,3) float32 points, returns (N,) signed distances (negative inside)."""

MIN_COARSE_CELLS = 16


def extract_mesh(sdf: SdfFn, bounds: float | Sequence = 1.0, resolution: int = 256, *,
                 coarse_resolution: int | None = None, level: float = 0.0, band: float = 1.0,
                 batch_size: int = 262144, face_budget: int | None = None,
                 progress: Callable | None = None, cancel=None) -> tuple[np.ndarray, np.ndarray]:
    """Extract the ``level`` isosurface of ``sdf`` inside ``bounds`` as (vertices (V,3), faces (F,3)).

    ``bounds`` is a half-extent ``b`` (the cube [-b, b]^3) or ``(min_xyz, max_xyz)``.
    ``resolution`` is the number of cells per axis at the finest level; it must be
    ``coarse_resolution * 2**k``. ``coarse_resolution`` defaults to the smallest such value
    >= 16 (``coarse_resolution == resolution`` evaluates the dense grid). A cell is refined when
    its corners change sign or one lies within ``band`` cell diagonals of the surface.
    ``face_budget`` simplifies the result to at most that many triangles. Returns empty arrays
    when the surface does not cross the volume. ``progress(fraction, stage, message)`` and
    ``cancel.check()`` are called between SDF batches.
    """
    lo, hi = _parse_bounds(bounds)
    coarse, levels = _plan_levels(resolution, coarse_resolution)
    report = progress or (lambda fraction, stage, message="": None)
    evaluate = _BatchedEvaluator(sdf, lo, batch_size, report, cancel, levels + 1)

    cells = coarse
    spacing = (hi - lo) / cells
    values = evaluate(np.indices((cells + 1,) * 3).reshape(3, -1).T, spacing, 0)
    values = values.reshape((cells + 1,) * 3)
    active = _cells_near_surface(values, level, band * float(np.linalg.norm(spacing)))
    for step in range(1, levels + 1):
        cells *= 2
        spacing = (hi - lo) / cells
        values = _upsample(values)
        active = np.repeat(np.repeat(np.repeat(active, 2, 0), 2, 1), 2, 2)
        exact = np.zeros(values.shape, dtype=bool)
        exact[::2, ::2, ::2] = True  # corners shared with the coarser level are already exact
        needed = _cell_corners(active) & ~exact
        index = np.argwhere(needed)
        values[needed] = evaluate(index, spacing, step)
        active &= _cells_near_surface(values, level, band * float(np.linalg.norm(spacing)))
    if cancel is not None:
        cancel.check()
    report(0.95, "extract", "marching cubes")
    vertices, faces = _marching_cubes(values, level, spacing, lo, _cell_corners(active))
    if face_budget is not None and len(faces) > face_budget:
        report(0.97, "simplify", f"{len(faces)} -> {face_budget} faces")
        vertices, faces = simplify_to_budget(vertices, faces, face_budget)
    report(1.0, "extract", f"{len(vertices)} vertices, {len(faces)} faces")
    return vertices, faces


def simplify_to_budget(vertices: np.ndarray, faces: np.ndarray, face_budget: int,
                       aggressiveness: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """Quadric-decimate a triangle mesh (fast-simplification) to at most ``face_budget`` faces."""
    if face_budget < 4:
        raise ValueError(f"face_budget must be at least 4, got {face_budget}")
    faces = np.asarray(faces)
    if len(faces) <= face_budget:
        return np.asarray(vertices, dtype=np.float32), faces.astype(np.int64)
    import fast_simplification

    out_v, out_f = fast_simplification.simplify(np.asarray(vertices, dtype=np.float64),
                                                faces.astype(np.int32), target_count=face_budget,
                                                agg=aggressiveness)
    if len(out_f) > face_budget:  # the decimator stops slightly above its target; finish the job
        out_v, out_f = fast_simplification.simplify(out_v, out_f.astype(np.int32),
                                                    target_count=int(face_budget * 0.98), agg=aggressiveness)
    return out_v.astype(np.float32), out_f.astype(np.int64)


def grid_points(bounds: float | Sequence, resolution: int) -> np.ndarray:
    """The (resolution+1)^3 corner positions of a dense grid over ``bounds``, shape (N,3), x slowest."""
    lo, hi = _parse_bounds(bounds)
    axes = [np.linspace(lo[i], hi[i], resolution + 1, dtype=np.float32) for i in range(3)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _parse_bounds(bounds) -> tuple[np.ndarray, np.ndarray]:
    if np.isscalar(bounds):
        half = float(bounds)
        if not half > 0:
            raise ValueError(f"bounds half-extent must be positive, got {bounds}")
        return np.full(3, -half), np.full(3, half)
    try:
        lo, hi = (np.asarray(b, dtype=np.float64).reshape(3) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError("bounds must be a half-extent or a (min_xyz, max_xyz) pair") from None
    if not np.all(np.isfinite(lo)) or not np.all(np.isfinite(hi)) or np.any(hi <= lo):
        raise ValueError(f"bounds need finite min < max on every axis, got {lo} .. {hi}")
    return lo, hi


def _plan_levels(resolution: int, coarse_resolution: int | None) -> tuple[int, int]:
    """(coarse cells per axis, number of 2x refinement levels)."""
    if int(resolution) != resolution or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution}")
    resolution = int(resolution)
    if coarse_resolution is None:
        coarse = resolution
        while coarse % 2 == 0 and coarse // 2 >= MIN_COARSE_CELLS:
            coarse //= 2
    else:
        coarse = int(coarse_resolution)
    levels = 0
    while coarse * 2 ** levels < resolution:
        levels += 1
    if coarse < 2 or coarse * 2 ** levels != resolution:
        raise ValueError(f"resolution {resolution} must be coarse_resolution ({coarse_resolution}) times a power of 2")
    return coarse, levels


class _BatchedEvaluator:
    """Calls the SDF on grid indices in batches, reporting progress and checking cancel."""

    def __init__(self, sdf: SdfFn, lo: np.ndarray, batch_size: int, report, cancel, num_levels: int):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.sdf, self.lo, self.batch_size = sdf, lo, int(batch_size)
        self.report, self.cancel, self.num_levels = report, cancel, num_levels

    def __call__(self, index: np.ndarray, spacing: np.ndarray, level: int) -> np.ndarray:
        out = np.empty(len(index), dtype=np.float32)
        for start in range(0, len(index), self.batch_size):
            if self.cancel is not None:
                self.cancel.check()
            chunk = index[start:start + self.batch_size]
            points = (self.lo + chunk * spacing).astype(np.float32)
            result = np.asarray(self.sdf(points), dtype=np.float32).reshape(-1)
            if result.shape[0] != len(points):
                raise ValueError(f"sdf returned {result.shape[0]} values for {len(points)} points")
            out[start:start + len(chunk)] = result
            done = (level + (start + len(chunk)) / max(len(index), 1)) / self.num_levels
            self.report(0.9 * done, "extract", f"level {level + 1}/{self.num_levels}: "
                                               f"{start + len(chunk)}/{len(index)} queries")
        if not np.all(np.isfinite(out)):
            raise ValueError("sdf returned non-finite values")
        return out


def _cells_near_surface(values: np.ndarray, level: float, threshold: float) -> np.ndarray:
    """Cells (n,n,n) whose 8 corners change sign, or come within ``threshold`` of the level."""
    shifted = values - level
    lo = np.full(tuple(s - 1 for s in values.shape), np.inf, dtype=np.float32)
    hi = np.full_like(lo, -np.inf)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                corner = shifted[dx:dx + lo.shape[0], dy:dy + lo.shape[1], dz:dz + lo.shape[2]]
                np.minimum(lo, corner, out=lo)
                np.maximum(hi, corner, out=hi)
    near = (lo <= 0) & (hi >= 0)
    near |= np.minimum(np.abs(lo), np.abs(hi)) < threshold
    return _dilate(near)


def _dilate(cells: np.ndarray) -> np.ndarray:
    """Grow a cell mask by one cell in all 26 directions."""
    from scipy.ndimage import binary_dilation

    return binary_dilation(cells, structure=np.ones((3, 3, 3), dtype=bool))


def _cell_corners(cells: np.ndarray) -> np.ndarray:
    """The grid points (n+1)^3 touched by any cell of the (n,n,n) mask."""
    points = np.zeros(tuple(s + 1 for s in cells.shape), dtype=bool)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                points[dx:dx + cells.shape[0], dy:dy + cells.shape[1], dz:dz + cells.shape[2]] |= cells
    return points


def _upsample(values: np.ndarray) -> np.ndarray:
    """Trilinear 2x refinement of a grid of (n+1)^3 point values to (2n+1)^3."""
    out = values
    for axis in range(3):
        shape = list(out.shape)
        shape[axis] = 2 * shape[axis] - 1
        finer = np.empty(shape, dtype=np.float32)
        even = [slice(None)] * 3
        odd = [slice(None)] * 3
        even[axis] = slice(0, None, 2)
        odd[axis] = slice(1, None, 2)
        finer[tuple(even)] = out
        lower = np.take(out, np.arange(out.shape[axis] - 1), axis=axis)
        upper = np.take(out, np.arange(1, out.shape[axis]), axis=axis)
        finer[tuple(odd)] = 0.5 * (lower + upper)
        out = finer
    return out


def _marching_cubes(values: np.ndarray, level: float, spacing: np.ndarray, lo: np.ndarray,
                    mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from skimage.measure import marching_cubes

    if not (values.min() < level < values.max()):
        return np.zeros((0, 3), dtype=np.float32), np.zeros((0, 3), dtype=np.int64)
    vertices, faces, _, _ = marching_cubes(values, level, spacing=tuple(float(s) for s in spacing),
                                           gradient_direction="descent", allow_degenerate=False, mask=mask)
    if len(faces) == 0:
        return np.zeros((0, 3), dtype=np.float32), np.zeros((0, 3), dtype=np.int64)
    return (vertices + lo).astype(np.float32), faces.astype(np.int64)
