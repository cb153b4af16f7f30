"""fit_to_surface on synthetic surfaces with known answers: spheres, an open sheet with a hole,
a cone's tip, a cube's creases."""
import numpy as np
import pytest

from backend.geometry.surface_distance import SurfaceQuery, sample_surface
from backend.geometry.polymesh import compact
from backend.runtime import CancelToken, Cancelled
from backend.geometry.surface_fit import Polylines, SurfaceTarget, _QuadMesh, fit_to_surface, quads_over_holes


def cube_sphere(n: int, radius: float = 1.0, center=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """A quad sphere: each cube face an n x n grid pushed onto the sphere; outward winding."""
    s = np.linspace(-1, 1, n + 1)
    verts, quads = [], []
    for axis in range(3):
        for sign in (-1, 1):
            u, v = np.meshgrid(s, s, indexing="ij")
            p = np.zeros((n + 1, n + 1, 3))
            p[..., axis] = sign
            p[..., (axis + 1) % 3] = u
            p[..., (axis + 2) % 3] = v
            idx = sum(len(x) for x in verts) + np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
            q = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], axis=-1).reshape(-1, 4)
            quads.append(q if sign > 0 else q[:, ::-1])
            verts.append(p.reshape(-1, 3))
    v = np.concatenate(verts)
    keys, inverse = np.unique(np.round(v, 9), axis=0, return_inverse=True)
    v = keys / np.linalg.norm(keys, axis=1, keepdims=True) * radius + np.asarray(center)
    return v, inverse.reshape(-1)[np.concatenate(quads)]


def triangulated(quads: np.ndarray) -> np.ndarray:
    return quads[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)


def revolution(profile: np.ndarray, segments: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A closed triangle surface of revolution about z from (r, z) points that start and end on the axis."""
    angle = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    rings = profile[1:-1]
    ring_v = np.stack([rings[:, None, 0] * np.cos(angle), rings[:, None, 0] * np.sin(angle),
                       np.repeat(rings[:, 1:2], segments, axis=1)], axis=-1).reshape(-1, 3)
    v = np.concatenate([[[0, 0, profile[0, 1]]], ring_v, [[0, 0, profile[-1, 1]]]])
    ring = 1 + np.arange(len(rings) * segments).reshape(len(rings), segments)
    nxt = np.roll(ring, -1, axis=1)
    tris = [np.stack([np.zeros(segments, int), nxt[0], ring[0]], axis=1)]
    for i in range(len(rings) - 1):
        tris += [np.stack([ring[i], nxt[i], nxt[i + 1]], axis=1), np.stack([ring[i], nxt[i + 1], ring[i + 1]], axis=1)]
    top = len(v) - 1
    tris.append(np.stack([ring[-1], nxt[-1], np.full(segments, top)], axis=1))
    return v, np.concatenate(tris)


def facing_out(v: np.ndarray, quads: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Whether each quad's normal (across its diagonals) points away from the point ``inside``."""
    p = v[quads]
    normal = np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])
    return np.einsum("fd,fd->f", normal, p.mean(axis=1) - inside) > 0


def hausdorff_into(points_from: tuple, surface: tuple, count: int = 20000) -> float:
    """Largest distance from samples (and vertices) of ``points_from`` to ``surface``."""
    pts = np.concatenate([sample_surface(*points_from, count)[0], points_from[0][np.unique(points_from[1])]])
    return float(SurfaceQuery(*surface).distance(pts).max())


def test_coarse_sphere_lands_on_a_fine_sphere_without_flips():
    fine_v, fine_q = cube_sphere(40)
    fine_t = triangulated(fine_q)
    v, q = cube_sphere(6)
    rng = np.random.default_rng(0)
    noisy = v * rng.uniform(1.05, 1.2, (len(v), 1)) + rng.normal(0, 0.02, v.shape)
    noisy = np.concatenate([noisy, [[5.0, 5.0, 5.0]]])  # an unused vertex stays where it is
    fitted = fit_to_surface(noisy, q, fine_v, fine_t)
    assert fitted.shape == noisy.shape and np.array_equal(fitted[-1], noisy[-1])
    on_surface = SurfaceQuery(fine_v, fine_t).distance(fitted[:-1])
    assert on_surface.max() < 1e-6
    assert facing_out(fitted, q, np.zeros(3)).all()
    # both ways within the chord error of a 6x6-per-face sphere
    assert hausdorff_into((fitted, triangulated(q)), (fine_v, fine_t)) < 0.06
    assert hausdorff_into((fine_v, fine_t), (fitted, triangulated(q))) < 0.06
    # relaxation evens the quads out: the spread of edge lengths shrinks
    edges = np.concatenate([q[:, [0, 1]], q[:, [1, 2]]])

    def spread(x):
        length = np.linalg.norm(x[edges[:, 0]] - x[edges[:, 1]], axis=1)
        return length.std() / length.mean()

    rough = fit_to_surface(noisy, q, fine_v, fine_t, iterations=0, pull_share=None)
    inward = fit_to_surface(noisy, q[:, ::-1], fine_v, fine_t, iterations=0, pull_share=None)
    assert np.array_equal(inward, rough)  # quads wound the other way fit the same
    assert spread(fitted) < spread(rough)


def sheet_with_hole(n: int, hole: float, extent: float = 1.0, norm: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """An n x n quad grid on [-extent, extent]^2 at z=0 without the cells whose centre is within
    ``hole`` of the middle (a square hole; ``norm=2``: a round one)."""
    s = np.linspace(-extent, extent, n + 1)
    x, y = np.meshgrid(s, s, indexing="ij")
    v = np.stack([x, y, np.zeros_like(x)], axis=-1).reshape(-1, 3)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    q = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], axis=-1).reshape(-1, 4)
    centre = v[q].mean(axis=1)
    q = q[np.linalg.norm(centre[:, :2], ord=norm, axis=1) > hole]
    used = np.unique(q)
    remap = np.full(len(v), -1)
    remap[used] = np.arange(len(used))
    return v[used], remap[q]


def test_open_boundaries_snap_to_the_input_outline_and_hole():
    fine_v, fine_q = sheet_with_hole(60, 0.3)
    fine_t = triangulated(fine_q)
    v, q = sheet_with_hole(10, 0.2, extent=0.9)  # outline too small, hole too small
    fitted = fit_to_surface(v, q, fine_v, fine_t)
    edges, counts = np.unique(np.sort(q[:, [0, 1, 1, 2, 2, 3, 3, 0]].reshape(-1, 2), axis=1), axis=0,
                              return_counts=True)
    rim = np.unique(edges[counts == 1])
    inner = np.max(np.abs(v[rim, :2]), axis=1) < 0.5
    r = np.max(np.abs(fitted[rim, :2]), axis=1)
    assert np.allclose(r[inner], 0.3, atol=1e-9) and np.allclose(r[~inner], 1.0, atol=1e-9)
    assert np.allclose(fitted[:, 2], 0.0)
    target = SurfaceTarget(fine_v, fine_t)  # built once, shared by every candidate: same answers
    assert np.array_equal(fit_to_surface(v, q, fine_v, fine_t, target=target), fitted)
    assert np.array_equal(quads_over_holes(v, q, fine_v, fine_t, target=target), quads_over_holes(v, q, fine_v, fine_t))
    assert facing_out(fitted, q, np.array([0, 0, -1.0])).all()
    # the outline and the hole now match: no part of the input is far from the result
    assert hausdorff_into((fine_v, fine_t), (fitted, triangulated(q))) < 0.06


def on_cone(directions: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Where rays from ``centre`` leave the cone of radius 0.5 on [0, 1] (bisection on the inside test)."""
    low, high = np.zeros(len(directions)), np.full(len(directions), 2.0)
    for _ in range(60):
        mid = 0.5 * (low + high)
        p = centre + directions * mid[:, None]
        inside = (p[:, 2] >= 0) & (p[:, 2] <= 1) & (np.linalg.norm(p[:, :2], axis=1) <= 0.5 * (1 - p[:, 2]))
        low, high = np.where(inside, mid, low), np.where(inside, high, mid)
    return centre + directions * low[:, None]


def test_moves_never_weld_two_vertices_or_fold_a_quad():
    # two separate unit quads side by side; both inner corners asked onto one point
    one = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    v = np.concatenate([one, one + [2, 0, 0]])
    mesh = _QuadMesh(np.array([[0, 1, 2, 3], [4, 5, 6, 7]]), v)
    wanted = v.copy()
    wanted[[2, 7]] = [1.5, 1, 0]
    x, undone = mesh.guarded(v, wanted)
    assert np.array_equal(x[2], [1.5, 1, 0]) and np.array_equal(x[7], v[7]) and undone.tolist() == [0] * 7 + [1]
    # a vertex moved onto one that stays is undone; a move that turns a corner over is undone
    wanted = v.copy()
    wanted[4] = v[1]
    wanted[2] = [-0.5, -0.5, 0]
    x, undone = mesh.guarded(v, wanted)
    assert np.array_equal(x, v) and undone[[2, 4]].all()
    # cut short instead: a quarter of the way does not fold
    x, whole = mesh.stepped(v, wanted)
    assert not whole[2] and 0 < np.linalg.norm(x[2] - v[2]) < np.linalg.norm(wanted[2] - v[2])


def test_quads_covering_an_input_hole_are_found_and_the_hole_reopens():
    fine_v, fine_q = sheet_with_hole(80, 0.35, norm=2)
    fine_t = triangulated(fine_q)
    v, q = sheet_with_hole(10, 0.0)  # the remesher closed the hole
    over = quads_over_holes(v, q, fine_v, fine_t)
    centre = np.linalg.norm(v[q].mean(axis=1)[:, :2], axis=1)
    assert over[centre < 0.2].all() and not over[centre > 0.45].any()
    v, q = compact(v, q[~over])
    fitted = fit_to_surface(v, q, fine_v, fine_t)
    # the result no longer spans the hole (0.35 across before): what is left is the chord error of
    # 0.2-long rim edges along the fine grid's staircase rim
    assert hausdorff_into((fitted, triangulated(q)), (fine_v, fine_t)) < 0.045
    assert hausdorff_into((fine_v, fine_t), (fitted, triangulated(q))) < 0.06
    # a closed input has no holes to reopen
    sphere_v, sphere_q = cube_sphere(4)
    fine_v, fine_q = cube_sphere(12)
    assert not quads_over_holes(sphere_v, sphere_q, fine_v, triangulated(fine_q)).any()


def test_cone_tip_is_pulled_back():
    z = np.linspace(0, 1, 60)
    profile = np.concatenate([np.stack([np.linspace(0, 0.5, 30), np.zeros(30)], axis=1)[:-1],
                              np.stack([0.5 * (1 - z), z], axis=1)])
    cone_v, cone_t = revolution(profile)
    diagonal = np.linalg.norm(cone_v.max(axis=0) - cone_v.min(axis=0))
    v, q = cube_sphere(8)
    tilt = np.radians(5.0)  # no vertex straight above the centre: the tip falls inside a quad
    v = v @ np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    v = on_cone(v, np.array([0, 0, 0.3]))
    plain = fit_to_surface(v, q, cone_v, cone_t, pull_share=None)
    pulled = fit_to_surface(v, q, cone_v, cone_t)
    apex = np.array([[0, 0, 1.0]])
    gap_plain = SurfaceQuery(plain, triangulated(q)).distance(apex)[0] / diagonal
    gap_pulled = SurfaceQuery(pulled, triangulated(q)).distance(apex)[0] / diagonal
    assert gap_plain > 0.03  # projection alone cuts the tip off
    assert gap_pulled < 0.015
    assert hausdorff_into((cone_v, cone_t), (pulled, triangulated(q))) / diagonal < 0.016
    assert facing_out(pulled, q, np.array([0, 0, 0.25])).all()


def test_crease_snapping_puts_vertices_on_the_cube_edges():
    fine_v, fine_q = cube_sphere(24)
    fine_v = fine_v / np.max(np.abs(fine_v), axis=1, keepdims=True)  # back onto the cube [-1, 1]^3
    fine_t = triangulated(fine_q)
    v, q = cube_sphere(5)
    v = v / np.max(np.abs(v), axis=1, keepdims=True) * 0.97  # a smaller cube: edges off the creases
    fitted = fit_to_surface(v, q, fine_v, fine_t, sharp_angle=40.0, iterations=0, pull_share=None)
    on_edge = np.sum(np.isclose(np.abs(v) / 0.97, 1.0), axis=1) >= 2
    assert np.allclose(np.sort(np.abs(fitted[on_edge]), axis=1)[:, 1:], 1.0, atol=1e-9)


def test_polylines_closest_points_are_exact():
    lines = Polylines(np.array([[0, 0, 0], [1, 0, 0.0]]), np.array([[1, 0, 0], [1, 2, 0.0]]))
    got = lines.closest_points(np.array([[0.3, -1, 0], [2, 1, 0], [-1, -1, 0.0]]))
    assert np.allclose(got, [[0.3, 0, 0], [1, 1, 0], [0, 0, 0]])


def test_a_cancelled_fit_stops_with_cancelled():
    fine_v, fine_q = cube_sphere(20)
    v, q = cube_sphere(4)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        fit_to_surface(v * 1.1, q, fine_v, triangulated(fine_q), cancel=token)


def test_a_vertex_under_an_overhang_lands_on_the_sheet_facing_its_way():
    # a floor facing up (z=0) and, above half of it, a plate facing down (z=0.02): a horn's
    # underside lying over the head. A point between them on a quad facing up belongs on the floor.
    g = np.linspace(-1, 1, 41)
    xx, yy = np.meshgrid(g, g)
    floor = np.stack([xx.ravel(), yy.ravel(), np.zeros(xx.size)], axis=1)
    idx = np.arange(xx.size).reshape(41, 41)
    cells = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], axis=-1).reshape(-1, 4)
    up = np.concatenate([cells[:, [0, 1, 2]], cells[:, [0, 2, 3]]])
    plate = floor[:, :] * [0.5, 0.5, 0] + [0.5, 0, 0.02]
    down = up[:, ::-1] + len(floor)
    target = SurfaceTarget(np.concatenate([floor, plate]), np.concatenate([up, down]))
    x = np.array([[0.5, 0.1, 0.012], [-0.5, 0.0, 0.01], [-0.6, 0.2, 0.01], [-0.4, -0.3, 0.01]])
    facing = np.tile([0.0, 0.0, 1.0], (len(x), 1))
    landed, normals = target.project(x, np.zeros(len(x), bool), facing)
    np.testing.assert_allclose(landed[:, 2], 0.0, atol=1e-9)  # the floor, not the plate 0.008 above
    np.testing.assert_allclose(landed[:, :2], x[:, :2], atol=1e-9)
    assert np.all(normals[:, 2] > 0.99)
    # facing down, the same point lands on the plate's underside
    below, _ = target.project(x[:1], np.zeros(1, bool), -facing[:1])
    np.testing.assert_allclose(below[0], [0.5, 0.1, 0.02], atol=1e-9)
    # with no surface facing its way nearby, a point keeps its place
    lone = SurfaceTarget(floor, up)
    y = np.array([[0.2, 0.3, -0.05], [0.1, 0.1, 0.05], [0.3, 0.1, 0.05], [0.1, 0.4, 0.05]])
    kept, _ = lone.project(y, np.zeros(4, bool), facing * [[-1], [1], [1], [1]])
    np.testing.assert_allclose(kept[0], y[0])
    np.testing.assert_allclose(kept[1:, 2], 0.0, atol=1e-9)
