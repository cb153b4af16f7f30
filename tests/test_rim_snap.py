"""Rim loops laid along the input's boundary loops (backend/geometry/rim_snap.py), the quads
next to them following (surface_fit), and holes smaller than a quad left closed (quad_gaps,
metrics)."""
import numpy as np

from backend.geometry.metrics import boundary_deviation
from backend.geometry.quad_gaps import find_gaps, hole_floor
from backend.geometry.rim_snap import Loop, boundary_edges_directed, loop_distance, ordered_loops, snap_loop
from backend.geometry.surface_fit import SurfaceTarget, quads_over_holes
from shared.payload import MeshPayload


def notched_circle(count: int = 400, depth: float = 0.3, width: float = 0.15) -> np.ndarray:
    """A unit circle (z=0) with a V-shaped notch toward the centre at angle 0."""
    a = np.linspace(0, 2 * np.pi, count, endpoint=False)
    off = np.minimum(np.abs(a), np.abs(a - 2 * np.pi))
    r = 1 - depth * np.clip(1 - off / width, 0, None)
    return np.stack([r * np.cos(a), r * np.sin(a), np.zeros_like(a)], axis=1)


def test_a_loop_projected_past_a_notch_is_laid_into_it_and_never_ends_farther():
    curve = notched_circle()
    loop = Loop(curve)
    for count, start in ((24, 0.13), (40, 0.05), (60, 0.11)):
        b = np.linspace(0, 2 * np.pi, count, endpoint=False) + start
        points = np.stack([np.cos(b), np.sin(b), np.zeros_like(b)], axis=1)
        projected = loop.at(loop.param(points))
        laid = snap_loop(points, curve, 0.01)
        assert laid is not None
        before, after = loop_distance(loop, projected), loop_distance(loop, laid)
        assert before > 0.1 and after < 0.5 * before
        # wound the other way, it is laid the same way backwards
        assert np.allclose(snap_loop(points[::-1], curve, 0.01)[::-1], laid)


def test_a_loop_that_does_not_go_round_the_curve_is_left_alone():
    curve = notched_circle()
    half = np.linspace(0, np.pi, 12)
    arc = np.stack([np.cos(half), np.sin(half), np.zeros_like(half)], axis=1)
    assert snap_loop(arc, curve, 0.01) is None


def test_ordered_loops_follow_the_face_winding():
    quads = np.array([[0, 1, 2, 3], [1, 4, 5, 2]])
    loops = ordered_loops(boundary_edges_directed(quads))
    assert len(loops) == 1 and len(loops[0]) == 6
    start = int(np.flatnonzero(loops[0] == 0)[0])
    assert np.roll(loops[0], -start).tolist() == [0, 1, 4, 5, 2, 3]


def sheet(n: int, holes: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """An n x n quad grid on [0, 1]^2 without the cells whose centre is within r of (x, y)."""
    s = np.linspace(0, 1, n + 1)
    x, y = np.meshgrid(s, s, indexing="ij")
    v = np.stack([x, y, np.zeros_like(x)], axis=-1).reshape(-1, 3)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    q = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], axis=-1).reshape(-1, 4)
    centre = v[q].mean(axis=1)[:, :2]
    keep = np.ones(len(q), bool)
    for hx, hy, r in holes:
        keep &= np.linalg.norm(centre - [hx, hy], axis=1) > r
    return v, q[keep]


def triangles(q: np.ndarray) -> np.ndarray:
    return np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])


def test_a_hole_smaller_than_a_quad_may_stay_closed_a_larger_one_may_not():
    # input: a fine sheet with a tiny hole (one cell of 100) and a wide one; output: 10 x 10 quads
    fine_v, fine_q = sheet(100, [(0.305, 0.305, 0.004), (0.7, 0.7, 0.16)])
    target = SurfaceTarget(fine_v, triangles(fine_q))
    coarse_v, coarse_q = sheet(10, [])
    floor = hole_floor(1.0, len(coarse_q))  # 0.4: one quad's perimeter
    assert target.small_holes(floor) == 1
    over = quads_over_holes(coarse_v, coarse_q, fine_v, triangles(fine_q), target=target, min_hole=floor)
    centres = coarse_v[coarse_q].mean(axis=1)[:, :2]
    assert over.any() and not over[np.linalg.norm(centres - 0.3, axis=1) < 0.1].any()
    assert (np.linalg.norm(centres[over] - 0.7, axis=1) < 0.2).all()
    # quads over both holes still miss the wide hole's rim with the floor known
    assert find_gaps(coarse_v, coarse_q, target, 0.02, min_hole=floor).rim > 0.05
    # a result with the wide hole and without the tiny one: its rims agree but for the tiny hole
    open_v, open_q = sheet(100, [(0.7, 0.7, 0.16)])
    assert find_gaps(open_v, open_q, target, 0.02, min_hole=floor).rim < 0.02 < find_gaps(open_v, open_q, target,
                                                                                           0.02).rim
    result = MeshPayload.from_triangles(open_v, triangles(open_q))
    reference = MeshPayload.from_triangles(fine_v, triangles(fine_q))
    assert boundary_deviation(result, reference, floor) < 0.02 < boundary_deviation(result, reference)
