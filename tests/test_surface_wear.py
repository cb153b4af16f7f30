"""Edge wear at sharp convex edges, dirt where the sky is hidden, normal maps from height."""
from __future__ import annotations

import numpy as np

from backend.geometry import bake
from backend.geometry.surface_wear import height_to_normal, sharp_edges, vertex_exposure, wear_and_dirt, welded, _normals
from backend.geometry.uv_unwrap import unwrap_triangles
from tests import mesh_corpus


def test_a_cube_has_twelve_sharp_edges_and_wears_only_near_them():
    cube = mesh_corpus.load("cube")
    positions, triangles = cube.positions.astype(float), cube.triangulated().astype(np.int64)
    points, tris, _ = welded(positions, triangles)
    assert len(sharp_edges(points, tris, _normals(points, tris)[0])) == 12  # the diagonals are flat
    uvs, _ = unwrap_triangles(positions, triangles, 128)
    texels = bake.texel_map(positions, triangles, uvs.astype(float), 128)
    wear, dirt = wear_and_dirt(texels, positions, triangles)
    from_edge = np.sort(1.0 - np.abs(texels.points), axis=1)[:, 1]  # distance to the nearest cube edge
    assert wear[from_edge > 0.1].max() == 0 and wear[from_edge < 0.01].mean() > 0.2
    assert dirt.max() < 0.05  # a lone cube is open to the sky everywhere


def test_the_floor_next_to_a_box_sees_less_sky_than_the_open_floor():
    floor = mesh_corpus.load("grid")  # a flat patch
    box = mesh_corpus.load("cube")    # size 2, centred at the origin
    floor_points = floor.positions.astype(float) * np.array([6.0, 6.0, 1.0])
    floor_points[:, 2] = -1.0         # the cube stands on it
    positions = np.concatenate([floor_points, box.positions.astype(float)])
    up = floor.triangulated()[:, ::-1]  # wound to face +Z, the sky
    triangles = np.concatenate([up, box.triangulated() + len(floor_points)]).astype(np.int64)
    normals = _normals(positions, triangles)[1]
    open_sky = vertex_exposure(positions, triangles, normals)[:len(floor_points)]
    reach = np.abs(floor_points[:, :2]).max(axis=1)
    near, far = (reach > 1.05) & (reach < 2.5), reach > 4.0
    assert near.any() and far.any() and open_sky[near].mean() < open_sky[far].mean() - 0.1


def test_height_ramp_tilts_the_normal_map_the_right_way():
    ramp = np.tile(np.linspace(0, 1, 16), (16, 1))  # rises towards +U (image right)
    normal = height_to_normal(ramp, strength=4.0) * 2 - 1
    assert (normal[..., 0] < 0).all() and np.allclose(normal[..., 1], 0) and (normal[..., 2] > 0).all()
