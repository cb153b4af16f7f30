import numpy as np
import trimesh

from backend.geometry.planar_quads import cut_polygon, kept_vertices, planar_quads, planar_regions
from backend.geometry.polymesh import undirected_edges
from backend.geometry.quad_pairing import corner_angles


def _cut(points):
    pts = np.asarray(points, np.float64)
    faces = cut_polygon(pts, list(range(len(pts))))
    assert faces is not None
    return pts, faces


def _area(pts):
    return 0.5 * float(np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1]))


def test_polygons_are_cut_into_the_fewest_faces_quads_first():
    hexagon = [(np.cos(a), np.sin(a)) for a in np.linspace(0, 2 * np.pi, 7)[:-1]]
    l_shape = [(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]
    pentagon = [(np.cos(a), np.sin(a)) for a in np.linspace(0, 2 * np.pi, 6)[:-1]]
    for points, sizes in ((hexagon, [4, 4]), (l_shape, [4, 4]), (pentagon, [3, 4]), ([(0, 0), (1, 0), (1, 1), (0, 1)], [4])):
        pts, faces = _cut(points)
        assert sorted(len(f) for f in faces) == sizes
        # the faces tile the polygon: same area, each counter-clockwise and convex
        assert np.isclose(sum(_area(pts[list(f)]) for f in faces), _area(pts))
        for f in faces:
            p = pts[list(f)]
            e = np.roll(p, -1, axis=0) - p
            assert (e[:, 0] * np.roll(e, -1, axis=0)[:, 1] - e[:, 1] * np.roll(e, -1, axis=0)[:, 0] > 0).all()


def test_a_straight_corner_is_never_a_quad_corner():
    """A rectangle with an extra vertex on one side: no clean quad uses it, so one triangle stays."""
    pts, faces = _cut([(0, 0), (1, 0), (2, 0), (2, 1), (0, 1)])
    assert sorted(len(f) for f in faces) == [3, 4]
    quad = pts[list(next(f for f in faces if len(f) == 4))]
    angles, convex = corner_angles(np.c_[quad, np.zeros(4)], np.arange(4)[None])
    assert convex.all() and angles.max() < 170


def test_regions_follow_the_flat_sides():
    v, t = _box_with_detail()
    labels = planar_regions(v, t, 10.0)
    assert labels.max() + 1 == 6


def _box_with_detail(count: int = 3):
    box = trimesh.creation.box(extents=(2.0, 1.0, 0.5))
    for _ in range(count):
        box = box.subdivide()
    return np.asarray(box.vertices, np.float64), np.asarray(box.faces, np.int64)


def test_a_subdivided_box_comes_back_as_six_quads_and_stays_closed():
    v, t = _box_with_detail()
    keep = kept_vertices(v, t, planar_regions(v, t, 10.0), 1e-3)
    assert keep.sum() == 8  # only the corners: every crease is straight
    tris, quads, as_is = planar_quads(v, t, 10.0, 1e-3)
    assert len(tris) == 0 and len(quads) == 6 and as_is == 0
    faces = quads.reshape(-1)
    _, counts = undirected_edges(np.full(len(quads), 4), faces)
    assert (counts == 2).all()  # closed and manifold
    fan = np.concatenate([quads[:, :3], quads[:, [0, 2, 3]]])
    area = trimesh.Trimesh(v, fan, process=False).area
    assert np.isclose(area, trimesh.Trimesh(v, t, process=False).area)
    # same winding as the input: the volume keeps its sign
    assert np.isclose(trimesh.Trimesh(v, fan, process=False).volume, 1.0)


def test_a_framed_face_keeps_its_hole_and_its_winding():
    """A plate with a square hole through it: the top and bottom faces are polygons with a hole;
    they come back as quads around the hole, closed, with the hole open."""
    outer = trimesh.creation.box(extents=(3.0, 3.0, 0.5))
    hole = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    plate = outer.difference(hole, engine="manifold")
    v, t = np.asarray(plate.vertices, np.float64), np.asarray(plate.faces, np.int64)
    tris, quads, as_is = planar_quads(v, t, 10.0, 1e-3)
    assert as_is == 0 and len(tris) + len(quads) <= len(t)
    faces = np.concatenate([tris.reshape(-1), quads.reshape(-1)])
    sizes = np.r_[np.full(len(tris), 3), np.full(len(quads), 4)]
    _, counts = undirected_edges(sizes, faces)
    assert (counts == 2).all()
    fan = np.concatenate([tris.reshape(-1, 3), quads[:, :3], quads[:, [0, 2, 3]]])
    assert np.isclose(trimesh.Trimesh(v, fan, process=False).volume, plate.volume)
    assert len(quads) >= 0.75 * (len(tris) + len(quads))


def _folded_square(degrees: float = 30.0):
    """Two triangles of a unit square, folded along the diagonal (0,0)-(1,1)."""
    fold = np.radians(degrees)
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 0]], np.float64)
    v[3] = [0.5 - 0.5 * np.cos(fold), 0.5 + 0.5 * np.cos(fold), 0.5 * np.sqrt(2) * np.sin(fold)]
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def test_two_odd_regions_merge_into_one_quad():
    """A square folded 30 degrees along its diagonal: two triangular regions at 10 degrees, one
    quad once odd neighbours may merge (normals within 40 degrees), none at 20 degrees."""
    v, t = _folded_square()
    assert planar_regions(v, t, 10.0).max() == 1
    tris, quads, _ = planar_quads(v, t, 10.0, 1e-4, merge_angle=20.0)
    assert len(tris) == 2 and len(quads) == 0
    tris, quads, _ = planar_quads(v, t, 10.0, 1e-4, merge_angle=40.0)
    assert len(tris) == 0 and len(quads) == 1
    assert set(quads[0].tolist()) == {0, 1, 2, 3}


def test_bent_quads_go_back_to_triangles():
    from backend.geometry.lowpoly_finish import clean_quads

    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0], [4, 1, 0], [2, 2, 0], [3, 1, 0]], np.float64)
    good = [0, 1, 2, 3]
    arrow = [4, 5, 6, 7]  # a dart: its corner at 7 points inward
    tris, quads = clean_quads(v, np.zeros((0, 3), np.int64), np.array([good, arrow]))
    assert quads.tolist() == [good] and len(tris) == 2
    area = sum(0.5 * np.linalg.norm(np.cross(v[b] - v[a], v[c] - v[a])) for a, b, c in tris)
    assert np.isclose(area, 1.0)  # the dart's own area: split from its reflex corner, no overlap
    normals = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    assert (normals[:, 2] > 0).all()


def test_the_region_finish_does_not_merge_over_a_crease():
    from backend.geometry.lowpoly_finish import regions
    from backend.geometry.surface_distance import SurfaceQuery

    v, t = _folded_square()
    surface = SurfaceQuery(v, t, samples=1000)
    _, tris, quads = regions(v, t, np.zeros((0, 4), np.int64), surface)
    assert len(tris) == 0 and len(quads) == 1
    _, tris, quads = regions(v, t, np.zeros((0, 4), np.int64), surface, crease=20.0)
    assert len(tris) == 2 and len(quads) == 0
