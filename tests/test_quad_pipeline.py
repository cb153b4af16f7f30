"""The quad remesh pipeline's coarse-to-fine path: a quarter-size QuadriFlow field, split 1 -> 4,
fitted back; and its pieces (field input, next count target, holes reopened)."""
import numpy as np
import pytest

import mesh_corpus
from backend.geometry import quad_engines, quad_remesh, repair
from backend.geometry.metrics import surface_distance
from backend.geometry.polymesh import euler_characteristic
from backend.geometry.surface_distance import SurfaceQuery
from shared.payload import MeshPayload


def part(name):
    mesh = mesh_corpus.load(name)
    return repair.clean(mesh.positions, mesh.triangulated(), [])


def quad_payload(piece):
    return MeshPayload(piece.vertices, np.full(len(piece.quads), 4), piece.quads.reshape(-1))


@pytest.mark.parametrize("name", ["torus", "uv_sphere"])
def test_coarse_to_fine_beats_the_direct_path_on_singular_vertices(name, monkeypatch):
    mesh = part(name)
    report = []
    piece = quad_remesh.remesh_quads([mesh], [2000], report=report)[0]
    assert piece.method == "quadriflow/4+split", report
    assert len(piece.triangles) == 0 and abs(piece.faces - 2000) <= 200
    assert quad_remesh._quad_euler(piece.quads) == euler_characteristic(mesh.triangles)
    # the vertices lie on the input surface (the fit projected them there; its fold guard may hold
    # back a few, a fraction of the 2% limit away)
    diagonal = np.linalg.norm(mesh.vertices.max(0) - mesh.vertices.min(0))
    on_surface = SurfaceQuery(mesh.vertices, mesh.triangles).distance(piece.vertices)
    assert np.mean(on_surface < 1e-3 * diagonal) > 0.99 and on_surface.max() < 0.01 * diagonal
    reference = MeshPayload.from_triangles(mesh.vertices, mesh.triangles)
    assert surface_distance(quad_payload(piece), reference, samples=10_000).hausdorff < 0.02

    monkeypatch.setattr(quad_remesh, "COARSE_MIN_FACES", 10**9)  # the direct path only
    direct = quad_remesh.remesh_quads([mesh], [2000])[0]
    assert not direct.method.endswith("split")
    assert quad_remesh.singular_count(piece.quads) <= quad_remesh.singular_count(direct.quads)


def test_small_budgets_take_the_direct_path():
    report = []
    piece = quad_remesh.remesh_quads([part("torus")], [quad_remesh.COARSE_MIN_FACES - 200], report=report)[0]
    assert piece.method == "quadriflow", report


def test_field_input_simplifies_big_inputs_only():
    bunny = part("bunny")
    v, t = quad_engines.field_input(bunny.vertices, bunny.triangles, 8000)
    assert 7000 <= len(t) <= 8000
    reference = MeshPayload.from_triangles(bunny.vertices, bunny.triangles)
    assert surface_distance(MeshPayload.from_triangles(v, t), reference, samples=10_000).hausdorff < 0.01
    torus = part("torus")
    same_v, same_t = quad_engines.field_input(torus.vertices, torus.triangles, 8000)
    assert same_t is torus.triangles and same_v is torus.vertices


def test_next_ask_interpolates_between_tries_around_the_budget():
    assert quad_remesh.next_ask([(500, 1600)], 2000) == pytest.approx(500 * 1.25 ** quad_remesh.COUNT_MISS_TRUST)
    # a jumpy response: 500 -> 1440, 700 -> 2540; aim between them, not past either
    ask = quad_remesh.next_ask([(500, 1440), (700, 2540)], 2000)
    assert ask == pytest.approx(500 + 200 * 560 / 1100)
    # the closest tries on each side are used
    assert quad_remesh.next_ask([(400, 1000), (500, 1800), (600, 2200), (800, 3000)], 2000) == pytest.approx(550)


def test_next_ask_brackets_by_target_and_never_repeats_one():
    # the cone: 530 -> 2260, 469 -> 1796, 496 -> 1428; the closest in count (469, 530) would ask
    # 496 again (the same count again); the tightest bracket in target is 496..530
    tried = [(530, 2260), (469, 1796), (496, 1428)]
    assert quad_remesh.next_ask(tried, 2000) == pytest.approx(496 + 34 * 572 / 832)
    # nothing untried between two neighbouring targets: step past the one that gave too few
    assert quad_remesh.next_ask([(500, 1900), (501, 2100)], 2000) == 502
    assert quad_remesh.next_ask([(500, 2001)], 2000) == 499  # and below one that gave too many


def test_reopen_holes_drops_quads_over_a_cut_cap_only_when_topology_gets_closer():
    sphere = part("uv_sphere")
    closed = quad_remesh.remesh_quads([sphere], [600])[0]
    centres = sphere.vertices[sphere.triangles].mean(axis=1)
    top = sphere.vertices[:, 2].max()
    cut = repair.clean(sphere.vertices, sphere.triangles[centres[:, 2] < top - 0.3 * np.ptp(sphere.vertices[:, 2])], [])
    assert euler_characteristic(cut.triangles) == 1  # a disc: the sphere with its cap removed
    reopened = quad_remesh.reopen_holes(closed, cut)
    assert 0 < len(closed.quads) - len(reopened.quads) < len(closed.quads) // 2
    assert quad_remesh._quad_euler(reopened.quads) == 1
    # on the closed sphere nothing covers a hole: the piece comes back as it was
    assert quad_remesh.reopen_holes(closed, sphere) is closed


def test_lone_triangles_become_one_quad_each_with_the_same_face():
    v = np.array([[0, 0, 0], [4, 0, 0], [0, 1, 0], [5, 5, 5], [5, 6, 5], [7, 5, 5]], float)
    t = np.array([[0, 1, 2], [3, 4, 5]])
    out_v, quads = quad_remesh.lone_triangles_as_quads(v, t)
    assert quads.shape == (2, 4) and len(out_v) == 8
    # the first triangle's longest edge is 1-2: its midpoint goes between them, winding kept
    assert quads[0].tolist() == [1, 6, 2, 0] and np.allclose(out_v[6], [2, 0.5, 0])
    for tri, quad in zip(t, quads):
        normal = np.cross(v[tri[1]] - v[tri[0]], v[tri[2]] - v[tri[0]])
        p = out_v[quad]
        quad_normal = np.cross(p[2] - p[0], p[3] - p[1])
        assert np.dot(normal, quad_normal) > 0 and np.allclose(np.dot(p - p[0], normal), 0)
        assert quad_remesh.singular_count(quad[None]) == 0


def test_only_triangles_without_a_neighbour_are_lone():
    triangles = np.array([[0, 1, 2], [2, 1, 3], [4, 5, 6], [7, 8, 9]])
    quads = np.array([[9, 8, 10, 11]])
    assert quad_remesh._lone(triangles, quads).tolist() == [False, False, True, False]


def test_collapse_room_keeps_the_count_within_tolerance():
    assert quad_remesh.collapse_room(451, 450) == pytest.approx(1 / 451)  # torus: one coarse face to spare
    assert quad_remesh.collapse_room(440, 450) == 0.0  # already under: no collapse
    assert quad_remesh.collapse_room(1000, 500) == 0.02  # plenty of room: the cleanup's own cap


def test_coarse_variants_that_would_see_the_same_input_are_dropped():
    assert quad_remesh.distinct_variants(100_000, 2000) == quad_remesh.COARSE_VARIANTS
    # the cone: nothing to simplify, only another target makes another field
    assert quad_remesh.distinct_variants(64, 2000) == ((0, 20, 1.0), (0, 20, 1.04))


def _cube_piece(half: float, shift: float) -> quad_remesh.Piece:
    cube = mesh_corpus.cube(2 * half)
    return quad_remesh.Piece(cube.positions.astype(np.float64) + [shift, 0, 0],
                             cube.face_indices.reshape(-1, 4).astype(np.int64))


def test_a_piece_that_lost_a_limb_is_not_fitted_and_a_close_one_is():
    sphere = part("uv_sphere")
    options = quad_remesh.Options()
    far = [_cube_piece(0.25, 0.6)]  # covers one side of the sphere only: most of it is lost
    chosen, verdicts = quad_remesh.choose(far, sphere, 6, options)
    assert chosen is None and verdicts[0].problems[0].endswith("before the fit")
    assert not far[0].polished and quad_remesh.lost_share(far[0], sphere) > quad_remesh.UNFITTABLE
    close = [_cube_piece(0.8, 0.0)]  # a box inside the sphere: the fit moves it onto the surface
    quad_remesh.choose(close, sphere, 6, options)
    assert close[0].polished


def test_polish_refines_quads_that_span_air_and_records_the_error_it_measured():
    from test_quad_refine import bump, grid, triangles_of

    sv, sq = grid(80, height=bump)
    sheet = repair.TriMesh(sv, triangles_of(sq))
    x, quads = grid(5, height=bump)  # the bump's peak inside a quad: the coarse grid cuts it off
    piece = quad_remesh.Piece(x, quads)
    budget = 45  # up to 49 faces: room for the templates at the peak (+20 faces for one quad)
    polished = quad_remesh.polish(piece, sheet, budget, quad_remesh.Options())
    assert len(quads) < len(polished.quads) <= 1.1 * budget
    assert polished.error == quad_remesh.shape_error(quad_remesh.Piece(polished.vertices, polished.quads), sheet)
    unrefined = quad_remesh.polish(piece, sheet, len(quads), quad_remesh.Options())  # no room for any template
    assert len(unrefined.quads) == len(quads)
    assert max(polished.error) < max(unrefined.error)
