"""Hierarchical SDF extraction on analytic shapes: accuracy, equivalence to the dense grid, errors."""
import numpy as np
import pytest
import trimesh

from backend.geometry.extract import extract_mesh, grid_points, simplify_to_budget
from backend.runtime import CancelToken, Cancelled


def sphere_sdf(p):
    return np.linalg.norm(p, axis=1) - 0.6


def box_sdf(p, half=np.array([0.5, 0.35, 0.25])):
    q = np.abs(p) - half
    return np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)


def torus_sdf(p, major=0.55, minor=0.2):
    ring = np.linalg.norm(p[:, :2], axis=1) - major
    return np.hypot(ring, p[:, 2]) - minor


REFERENCES = {
    "sphere": (sphere_sdf, lambda: trimesh.creation.icosphere(subdivisions=6, radius=0.6)),
    "box": (box_sdf, lambda: trimesh.creation.box(extents=(1.0, 0.7, 0.5))),
    "torus": (torus_sdf, lambda: trimesh.creation.torus(0.55, 0.2, major_sections=256, minor_sections=128)),
}


CHAMFER_TOLERANCE = 1e-3


def chamfer(mesh, sdf, reference, count=5000):
    """Symmetric mean surface-to-surface distance (L1 Chamfer), measured exactly rather than between
    two point samples (whose nearest-neighbour gaps alone exceed 1e-3): our samples against the
    analytic SDF, the reference's samples against our triangles."""
    ours, _ = trimesh.sample.sample_surface(mesh, count, seed=2)
    theirs, _ = trimesh.sample.sample_surface(reference, count, seed=1)
    _, to_ours, _ = trimesh.proximity.closest_point(mesh, theirs)
    return 0.5 * (np.abs(sdf(ours)).mean() + to_ours.mean())


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_analytic_shapes_within_1e3_chamfer(name):
    sdf, reference = REFERENCES[name]
    vertices, faces = extract_mesh(sdf, 1.0, 128)
    mesh = trimesh.Trimesh(vertices, faces)
    assert mesh.is_watertight
    assert mesh.volume > 0, "faces must point outward"
    assert chamfer(mesh, sdf, reference()) < CHAMFER_TOLERANCE
    # and the extracted vertices lie on the analytic zero level
    assert np.abs(sdf(vertices)).mean() < 1e-3


def test_hierarchical_matches_dense_with_fewer_queries():
    counts = {}

    def counted(key):
        def fn(p):
            counts[key] = counts.get(key, 0) + len(p)
            return torus_sdf(p)
        return fn

    v_dense, f_dense = extract_mesh(counted("dense"), 1.0, 128, coarse_resolution=128)
    v_hier, f_hier = extract_mesh(counted("hier"), 1.0, 128, coarse_resolution=16)
    assert counts["hier"] * 4 < counts["dense"]
    assert len(f_hier) == len(f_dense)
    np.testing.assert_allclose(np.sort(v_hier, axis=0), np.sort(v_dense, axis=0), atol=1e-6)


def lamp_sdf(p):
    """A ball on a stem thinner than a 32^3 cell (0.02 radius vs 0.0625 cells): the thin part."""
    ball = np.linalg.norm(p - [0.0, 0.0, 0.45], axis=1) - 0.3
    along = np.clip(p[:, 2], -0.8, 0.45)
    stem = np.linalg.norm(p - np.stack([np.zeros_like(along), np.zeros_like(along), along], 1), axis=1) - 0.02
    return np.minimum(ball, stem)


def test_thin_parts_come_out_as_the_dense_grid_gives_them_with_20x_fewer_queries():
    stats = {}
    v_dense, f_dense = extract_mesh(lamp_sdf, 1.0, 128, coarse_resolution=128)
    v_hier, f_hier = extract_mesh(lamp_sdf, 1.0, 128, stats=stats)
    assert stats["queries"] * 20 < 129 ** 3 and stats["resolution"] == 128
    assert len(f_hier) == len(f_dense)
    np.testing.assert_allclose(np.sort(v_hier, axis=0), np.sort(v_dense, axis=0), atol=1e-6)
    assert v_hier[:, 2].min() < -0.79, "the stem reaches its end"


def test_stop_faces_ends_refinement_at_the_level_the_budget_needs():
    stats = {}
    _, fine = extract_mesh(sphere_sdf, 1.0, 128)
    _, faces = extract_mesh(sphere_sdf, 1.0, 128, stop_faces=len(fine) // 5, stats=stats)
    assert stats["resolution"] == 64 and len(fine) // 5 <= len(faces) <= len(fine) // 3


def test_no_surface_gives_empty_mesh():
    vertices, faces = extract_mesh(lambda p: np.linalg.norm(p, axis=1) + 1.0, 1.0, 32)
    assert vertices.shape == (0, 3) and faces.shape == (0, 3)


def test_box_bounds_and_non_cubic_extent():
    vertices, faces = extract_mesh(sphere_sdf, ((-1, -1, -0.2), (1, 1, 1)), 64)
    assert vertices[:, 2].min() >= -0.2 - 1e-6
    assert len(faces) > 100


def test_face_budget_simplifies():
    vertices, faces = extract_mesh(torus_sdf, 1.0, 128, face_budget=3000)
    assert 2000 < len(faces) <= 3000
    assert np.abs(torus_sdf(vertices)).max() < 0.02


def test_simplify_to_budget_keeps_small_meshes():
    box = trimesh.creation.box()
    v, f = simplify_to_budget(box.vertices, box.faces, 100)
    assert len(f) == 12


def test_progress_and_cancel():
    seen = []
    extract_mesh(sphere_sdf, 1.0, 64, batch_size=2000, progress=lambda f, s, m="": seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 5
    token = CancelToken()

    def cancelling(p):
        token.cancel()
        return sphere_sdf(p)

    with pytest.raises(Cancelled):
        extract_mesh(cancelling, 1.0, 64, batch_size=2000, cancel=token)


@pytest.mark.parametrize("kwargs, message", [
    ({"resolution": 100, "coarse_resolution": 16}, "power of 2"),
    ({"resolution": 1}, "resolution"),
    ({"bounds": ((0, 0, 0), (1, -1, 1))}, "min < max"),
    ({"bounds": -1.0}, "positive"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    args = {"bounds": 1.0, "resolution": 32, **kwargs}
    with pytest.raises(ValueError, match=message):
        extract_mesh(sphere_sdf, **args)


def test_bad_sdf_output_is_reported():
    with pytest.raises(ValueError, match="values for"):
        extract_mesh(lambda p: np.zeros(3), 1.0, 32)
    with pytest.raises(ValueError, match="non-finite"):
        extract_mesh(lambda p: np.full(len(p), np.nan), 1.0, 32)


def test_grid_points_layout():
    points = grid_points(1.0, 4)
    assert points.shape == (125, 3)
    np.testing.assert_allclose(points[0], [-1, -1, -1])
    np.testing.assert_allclose(points[1], [-1, -1, -0.5])


def test_grid_memo_answers_repeated_grid_points_without_asking_again():
    from backend.geometry.extract import GridMemo
    asked = []

    def counted(p):
        asked.append(len(p))
        return sphere_sdf(p)

    memo = GridMemo(counted, 1.0, 64)
    first = extract_mesh(memo, 1.0, 64)
    queries = memo.queries
    again = extract_mesh(memo, 1.0, 64)
    assert memo.queries == queries == sum(asked), "the second pass was answered from the memo"
    np.testing.assert_array_equal(first[1], again[1])
    off_grid = np.array([[0.013, 0.2, 0.3]], dtype=np.float32)
    assert memo(off_grid)[0] == pytest.approx(sphere_sdf(off_grid)[0]) and memo.queries == queries + 1
