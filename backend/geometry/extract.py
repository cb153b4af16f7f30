"""Signed distance -> triangle mesh by coarse-to-fine (octree) marching cubes.

A coarse grid is evaluated everywhere. Then, level by level, only cells that may hold surface are
split in eight: cells whose corners change sign, and cells whose nearest corner lies within
``band`` cell diagonals of the level (a thin part may pass between corners) when a probe at the
cell's centre says so: its sign differs from the corners', or it lies within ``band`` child
diagonals of the level (a true distance field cannot hide surface in a child whose corners are all
farther than the child's diagonal). The probe costs one query where splitting costs 19, and it
is a corner of the children. A probed cell's eight children are evaluated (batched SDF calls); of
a crossing cell's children only those the interpolated field says cross (at least one does).
Then a child that holds surface passes it on through each face whose four exact corners change
sign; the neighbour behind that face is evaluated too, until the surface closes (surface
following). So each piece of surface the coarse levels touched comes out exactly as the dense
grid would give it, and points far from the surface are never queried. Refinement stops at
``resolution``, or earlier once the surface has ``stop_faces`` triangles (the resolution a face
budget needs). scikit-image's marching cubes runs only on cells whose corners are all exact.
Convention: negative inside, positive outside.
"""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np

SdfFn = Callable[[np.ndarray], np.ndarray]
"""Takes (N,3) float32 points, returns (N,) signed distances (negative inside)."""

MIN_COARSE_CELLS = 16
CORNERS = np.array(list(itertools.product((0, 1), repeat=3)))            # (8,3), index = 4x + 2y + z
FACES = [(np.eye(3, dtype=int)[axis] * (2 * side - 1), np.flatnonzero(CORNERS[:, axis] == side))
         for axis in range(3) for side in (0, 1)]                         # (neighbour offset, its 4 corners)
TRIANGLES_PER_CELL = 2.0                                                  # marching cubes, on average
UNKNOWN = np.float32(1e6)                                                 # grid value not evaluated
_HALF = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])                    # 1-D weights at 0, 1/2, 1
BLOCK_WEIGHTS = np.array([[_HALF[a, dx] * _HALF[b, dy] * _HALF[c, dz] for dx, dy, dz in CORNERS]
                          for a, b, c in itertools.product(range(3), repeat=3)])   # (27, 8) trilinear
CHILD_CORNERS = np.array([[9 * (i + dx) + 3 * (j + dy) + (k + dz) for dx, dy, dz in CORNERS]
                          for i, j, k in CORNERS])                        # (8 children, 8 corners) -> block


def extract_mesh(sdf: SdfFn, bounds: float | Sequence = 1.0, resolution: int = 256, *,
                 coarse_resolution: int | None = None, level: float = 0.0, band: float = 1.0,
                 batch_size: int = 262144, face_budget: int | None = None, stop_faces: int | None = None,
                 stats: dict | None = None, progress: Callable | None = None,
                 cancel=None) -> tuple[np.ndarray, np.ndarray]:
    """Extract the ``level`` isosurface of ``sdf`` inside ``bounds`` as (vertices (V,3), faces (F,3)).

    ``bounds`` is a half-extent ``b`` (the cube [-b, b]^3) or ``(min_xyz, max_xyz)``.
    ``resolution`` is the number of cells per axis at the finest level; it must be
    ``coarse_resolution * 2**k``. ``coarse_resolution`` defaults to the smallest such value
    >= 16 (``coarse_resolution == resolution`` evaluates the dense grid). ``stop_faces`` ends the
    refinement at the first level whose surface has about that many triangles. ``face_budget``
    simplifies the result to at most that many triangles. ``stats`` (a dict) receives
    ``queries`` and the ``resolution`` reached. Returns empty arrays when the surface does not
    cross the volume. ``progress(fraction, stage, message)`` and ``cancel.check()`` are called
    between SDF batches and surface-following rounds.
    """
    lo, hi = _parse_bounds(bounds)
    coarse, levels = _plan_levels(resolution, coarse_resolution)
    report = progress or (lambda fraction, stage, message="": None)
    evaluate = _BatchedEvaluator(sdf, lo, batch_size, report, cancel, levels + 1)

    cells = coarse
    spacing = (hi - lo) / cells
    values = evaluate(np.indices((cells + 1,) * 3).reshape(3, -1).T, spacing, 0)
    values = values.reshape((cells + 1,) * 3)
    exact = np.ones(values.shape, dtype=bool)
    active = np.ones((cells,) * 3, dtype=bool)
    for step in range(1, levels + 1):
        cell_index = np.argwhere(active)
        corner_values = _corner_values(values, cell_index) - level            # (m, 8), all exact
        lowest, highest = corner_values.min(1), corner_values.max(1)
        crossing = (lowest < 0) & (highest >= 0)
        if stop_faces is not None and TRIANGLES_PER_CELL * crossing.sum() >= stop_faces:
            break
        threshold = band * float(np.linalg.norm(spacing))   # a thin part may pass between corners
        near = ~crossing & (np.minimum(np.abs(lowest), np.abs(highest)) < threshold)
        probed, probed_inside = cell_index[near], corner_values[near, 0] < 0
        cells *= 2
        spacing = (hi - lo) / cells
        values, exact = _finer(values, exact)
        centres = 2 * probed + 1
        _evaluate_points(centres, values, exact, evaluate, spacing, step)
        probe = values[centres[:, 0], centres[:, 1], centres[:, 2]]
        split = ((probe < level) != probed_inside) | (np.abs(probe - level) < band * float(np.linalg.norm(spacing)))
        # a probed cell keeps its eight children; a crossing cell those its interpolated field says
        # cross (at least one does); surface following then adds the rest of the sheet.
        seeds = np.concatenate([_all_children(probed[split]),
                                _crossing_children(cell_index[crossing], corner_values[crossing])])
        active = np.zeros((cells,) * 3, dtype=bool)
        active[tuple(seeds.T)] = True
        _evaluate_corners(np.argwhere(active), values, exact, evaluate, spacing, step)
        _follow_surface(values, exact, active, level, evaluate, spacing, step, cancel)
    if cancel is not None:
        cancel.check()
    if stats is not None:
        stats.update(queries=evaluate.queries, resolution=cells)
    report(0.95, "extract", f"marching cubes at {cells}^3")
    mask = np.zeros(values.shape, dtype=bool)
    mask[1:, 1:, 1:] = active   # scikit-image tests a cell's mask at its far corner
    vertices, faces = _marching_cubes(values, level, spacing, lo, mask)
    if face_budget is not None and len(faces) > face_budget:
        report(0.97, "simplify", f"{len(faces)} -> {face_budget} faces")
        vertices, faces = simplify_to_budget(vertices, faces, face_budget)
    report(1.0, "extract", f"{len(vertices)} vertices, {len(faces)} faces")
    return vertices, faces


class GridMemo:
    """An SDF that remembers its values at the points of one extraction grid (``bounds``,
    ``resolution``; coarser levels' points lie on it too), so extracting a locally edited field
    again (struts added) only queries the points the first pass did not. Off-grid points pass
    through. ``queries`` counts the points the wrapped SDF was asked for."""

    def __init__(self, sdf: SdfFn, bounds: float | Sequence, resolution: int):
        lo, hi = _parse_bounds(bounds)
        self.sdf, self.lo, self.step, self.size = sdf, lo, (hi - lo) / resolution, resolution + 1
        self.keys, self.values = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        self.queries = 0

    def __call__(self, points: np.ndarray) -> np.ndarray:
        scaled = (np.asarray(points, dtype=np.float64) - self.lo) / self.step
        index = np.rint(scaled)
        on_grid = np.all((np.abs(scaled - index) < 1e-3) & (index >= 0) & (index < self.size), axis=1)
        keys = np.ravel_multi_index(np.clip(index, 0, self.size - 1).astype(np.int64).T, (self.size,) * 3)
        slot = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        known = on_grid & (self.keys[slot] == keys) if len(self.keys) else np.zeros(len(keys), dtype=bool)
        out = np.empty(len(keys), dtype=np.float32)
        out[known] = self.values[slot[known]]
        missing = ~known
        if missing.any():
            self.queries += int(missing.sum())
            out[missing] = np.asarray(self.sdf(points[missing]), dtype=np.float32).reshape(-1)
            new = missing & on_grid
            keys, order = np.unique(np.concatenate([self.keys, keys[new]]), return_index=True)
            self.keys, self.values = keys, np.concatenate([self.values, out[new]])[order]
        return out


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
        self.queries, self.reported = 0, 0.0

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
            self.queries += len(chunk)
            done = (level + (start + len(chunk)) / max(len(index), 1)) / self.num_levels
            self.reported = max(self.reported, 0.9 * done)
            self.report(self.reported, "extract", f"level {level + 1}/{self.num_levels}: "
                                                  f"{start + len(chunk)}/{len(index)} queries")
        if not np.all(np.isfinite(out)):
            raise ValueError("sdf returned non-finite values")
        return out


def _corner_values(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """(k, 8) values at the corners of ``cells`` (k, 3), corner order ``CORNERS``."""
    corners = cells[:, None, :] + CORNERS[None]
    return values[corners[..., 0], corners[..., 1], corners[..., 2]]


def _finer(values: np.ndarray, exact: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The next level's (2n+1)^3 value grid and exact mask: the shared corners carried over, every
    other point unknown (UNKNOWN, never read: only cells whose corners are all exact are used)."""
    shape = tuple(2 * s - 1 for s in values.shape)
    finer, finer_exact = np.full(shape, UNKNOWN, dtype=np.float32), np.zeros(shape, dtype=bool)
    finer[::2, ::2, ::2], finer_exact[::2, ::2, ::2] = values, exact
    return finer, finer_exact


def _all_children(cells: np.ndarray) -> np.ndarray:
    """The 8 children (8k, 3) of ``cells`` (k, 3) on the next level."""
    return (2 * cells[:, None, :] + CORNERS[None]).reshape(-1, 3)


def _crossing_children(cells: np.ndarray, corner_values: np.ndarray) -> np.ndarray:
    """The children of ``cells`` whose trilinearly interpolated corner values change sign."""
    block = corner_values @ BLOCK_WEIGHTS.T                            # (k, 27) values at the children's corners
    child_values = block[:, CHILD_CORNERS]                              # (k, 8 children, 8 corners)
    crosses = (child_values.min(2) < 0) & (child_values.max(2) >= 0)
    parent, child = np.nonzero(crosses)
    return 2 * cells[parent] + CORNERS[child]


def _evaluate_corners(cells: np.ndarray, values: np.ndarray, exact: np.ndarray, evaluate, spacing, step) -> None:
    """Evaluate the not-yet-exact corners of ``cells`` (k,3) into ``values``; mark them exact."""
    _evaluate_points((cells[:, None, :] + CORNERS[None]).reshape(-1, 3), values, exact, evaluate, spacing, step)


def _evaluate_points(points: np.ndarray, values: np.ndarray, exact: np.ndarray, evaluate, spacing, step) -> None:
    """Evaluate the not-yet-exact grid ``points`` (k,3) into ``values``; mark them exact."""
    if len(points) == 0:
        return
    shape = np.array(values.shape)
    flat = np.unique(np.ravel_multi_index(points.T, shape))
    flat = flat[~exact.ravel()[flat]]
    if len(flat) == 0:
        return
    index = np.stack(np.unravel_index(flat, shape), axis=1)
    values.ravel()[flat] = evaluate(index, spacing, step)
    exact.ravel()[flat] = True


def _follow_surface(values: np.ndarray, exact: np.ndarray, active: np.ndarray, level: float, evaluate,
                    spacing, step, cancel) -> None:
    """Grow ``active`` across every face the surface crosses, evaluating the new cells' corners."""
    n = np.array(active.shape)
    frontier = np.argwhere(active)
    while len(frontier):
        if cancel is not None:
            cancel.check()
        corners = frontier[:, None, :] + CORNERS[None]
        inside = values[corners[..., 0], corners[..., 1], corners[..., 2]] < level
        found = []
        for offset, face in FACES:
            side = inside[:, face]
            neighbours = frontier[side.any(1) & ~side.all(1)] + offset
            found.append(neighbours[np.all((neighbours >= 0) & (neighbours < n), axis=1)])
        flat = np.unique(np.ravel_multi_index(np.concatenate(found).T, n))
        flat = flat[~active.ravel()[flat]]
        frontier = np.stack(np.unravel_index(flat, n), axis=1)
        active.ravel()[flat] = True
        _evaluate_corners(frontier, values, exact, evaluate, spacing, step)


def _marching_cubes(values: np.ndarray, level: float, spacing: np.ndarray, lo: np.ndarray,
                    mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from skimage.measure import marching_cubes

    if not mask.any() or not (values.min() < level < values.max()):
        return np.zeros((0, 3), dtype=np.float32), np.zeros((0, 3), dtype=np.int64)
    vertices, faces, _, _ = marching_cubes(values, level, spacing=tuple(float(s) for s in spacing),
                                           gradient_direction="descent", allow_degenerate=False, mask=mask)
    if len(faces) == 0:
        return np.zeros((0, 3), dtype=np.float32), np.zeros((0, 3), dtype=np.int64)
    return (vertices + lo).astype(np.float32), faces.astype(np.int64)
