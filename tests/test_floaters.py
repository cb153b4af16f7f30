"""Floating debris is dropped, the parts an object has are kept (backend/geometry/floaters.py)."""
import numpy as np
import trimesh

from backend.geometry.floaters import drop_floaters, largest_piece_share
from backend.models.shape_pipeline import clean_mesh


def scene(*meshes):
    joined = trimesh.util.concatenate(list(meshes))
    return np.asarray(joined.vertices, dtype=np.float32), np.asarray(joined.faces)


def test_islands_far_from_the_body_and_specks_go_near_parts_stay():
    body = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    near = trimesh.creation.icosphere(subdivisions=2, radius=0.08).apply_translation([0, 0, 0.6])  # a knob
    far = trimesh.creation.icosphere(subdivisions=2, radius=0.08).apply_translation([0.9, 0.9, 0.9])
    speck = trimesh.creation.icosphere(subdivisions=1, radius=0.01).apply_translation([0, 0.52, 0])
    big = trimesh.creation.box(extents=(0.6, 0.6, 0.6)).apply_translation([2.0, 0, 0])  # large: never noise
    vertices, faces = scene(body, near, far, speck, big)
    assert largest_piece_share(vertices, faces) < 0.7
    out_v, out_f, report = drop_floaters(vertices, faces)
    assert report["pieces"] == 5 and report["dropped"] == 2
    kept = trimesh.Trimesh(out_v, out_f).split(only_watertight=False)
    assert sorted(round(p.area, 3) for p in kept) == sorted(round(m.area, 3) for m in (body, near, big))
    assert len(np.unique(out_f)) == len(out_v), "no unused vertices left"


def test_one_piece_is_untouched_and_clean_mesh_orients_outward():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    v, f, report = drop_floaters(sphere.vertices, sphere.faces)
    assert report == {"pieces": 1, "dropped": 0, "dropped_area": 0.0, "largest_piece_share_before": 1.0,
                      "largest_piece_share": 1.0}
    assert len(f) == len(sphere.faces)
    v, f = clean_mesh(sphere.vertices, sphere.faces[:, ::-1])
    assert trimesh.Trimesh(v, f).volume > 0


def test_a_part_the_field_nearly_joined_is_bridged_a_floater_behind_a_ridge_is_not():
    from backend.geometry.extract import extract_mesh
    from backend.geometry.floaters import piece_areas, valley_bridges, with_struts

    def field(p):
        body = np.linalg.norm(p, axis=1) - 0.4
        foot = np.linalg.norm(p - [0, 0, -0.7], axis=1) - 0.1                       # a broken leg's end
        z = np.clip(p[:, 2], -0.6, -0.4)
        ghost = np.linalg.norm(p - np.stack([0 * z, 0 * z, z], 1), axis=1) + 0.004  # field just above 0
        island = np.linalg.norm(p - [0.65, 0, 0], axis=1) - 0.1                     # a ridge between
        return np.minimum.reduce([body, foot, ghost, island]).astype(np.float32)

    cell = 2.0 / 128
    vertices, faces = extract_mesh(field, 1.0, 128)
    assert len(piece_areas(vertices, faces)[1]) == 3
    bridges = valley_bridges(vertices, faces, field, cell)
    assert len(bridges) == 1 and bridges[0][0][2] < -0.55, "only the foot, across the valley"
    joined_v, joined_f = extract_mesh(with_struts(field, bridges, cell), 1.0, 128)
    _, areas = piece_areas(joined_v, joined_f)
    assert len(areas) == 2 and joined_v[:, 2].min() < -0.79, "foot joined to the body; the island stays apart"
