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
