"""The bake engine: colour fields, multi-view projection round trip, visibility, hole filling."""
from __future__ import annotations

import numpy as np
import pytest

from backend.geometry import bake
from backend.geometry.camera import front_orthographic, look_at
from backend.geometry.raster import rasterize
from backend.geometry.render import render_textured
from backend.geometry.uv_unwrap import unwrap_triangles
from backend.runtime import CancelToken, Cancelled
from tests import mesh_corpus


def smooth_colors(points, normals):
    """A known, smooth colour field with roughness/metallic channels."""
    rgb = 0.5 + 0.4 * np.sin(np.stack([2.0 * points[:, 0] + 1.0, 2.5 * points[:, 1], 1.5 * points[:, 2] - 0.5], 1))
    return {"base_color": rgb, "roughness": (0.5 + 0.4 * points[:, 2:3]), "metallic": np.zeros((len(points), 1))}


@pytest.fixture(scope="module")
def sphere_with_uvs():
    mesh = mesh_corpus.load("uv_sphere")
    positions = mesh.positions.astype(np.float64)
    triangles = mesh.triangulated().astype(np.int64)
    uvs, note = unwrap_triangles(positions, triangles, 256)
    assert note == "unwrapped with xatlas"
    return positions, triangles, uvs.astype(np.float64)


def test_rasterizer_covers_a_square_exactly_once():
    xy = np.array([[[0, 0], [8, 0], [8, 8]], [[0, 0], [8, 8], [0, 8]]], dtype=float)
    raster = rasterize(xy, 8, 8)
    assert raster.mask.all()
    np.testing.assert_allclose(raster.bary.sum(-1), 1.0)


def test_rasterizer_depth_keeps_the_nearest():
    tri = np.array([[[0, 0], [16, 0], [0, 16]]], dtype=float)
    xy = np.concatenate([tri, tri])
    raster = rasterize(xy, 16, 16, depth=np.array([[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]))
    assert set(np.unique(raster.face[raster.mask])) == {1}
    assert raster.depth[raster.mask].max() == pytest.approx(1.0)


def test_field_bake_reproduces_the_field(sphere_with_uvs):
    positions, triangles, uvs = sphere_with_uvs
    texels = bake.texel_map(positions, triangles, uvs, 128)
    values = bake.bake_field(texels, smooth_colors)
    assert texels.mask.mean() > 0.4  # xatlas packs charts reasonably tightly
    np.testing.assert_allclose(values["base_color"], smooth_colors(texels.points, texels.normals)["base_color"])
    assert np.abs(np.linalg.norm(texels.points, axis=1) - 1.0).max() < 0.02  # texels lie on the sphere


def test_render_then_bake_round_trip_psnr_above_35db(sphere_with_uvs):
    positions, triangles, uvs = sphere_with_uvs
    texels = bake.texel_map(positions, triangles, uvs, 128)
    truth = bake.bake_field(texels, smooth_colors)["base_color"]
    texture = bake.dilate(texels.image(truth), texels.mask)
    directions = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
    directions += [(sx, sy, sz) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
    views = []
    for d in directions:
        eye = 3.5 * np.asarray(d, dtype=float) / np.linalg.norm(d)
        camera = look_at(eye, [0, 0, 0], 320, 320, fov_y=np.radians(40))
        views.append(bake.View(camera, render_textured(positions, triangles, uvs, texture, camera)))
    color, weight = bake.bake_views(texels, positions, triangles, views)
    assert (weight > 0).mean() > 0.999
    value = bake.psnr(color[weight > 0], truth[weight > 0])
    assert value >= 35.0, f"round trip PSNR {value:.1f} dB"


def test_occluded_surface_is_not_painted():
    # Two parallel squares seen from the front: only the nearer one may receive the image.
    quad = np.array([[-1, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1]], dtype=float)
    positions = np.concatenate([quad, quad + [0, 1.0, 0]])
    triangles = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])  # normals face -Y, the camera
    uvs = np.array([[[0.0, 0.0], [0.45, 0.45], [0.45, 0.0]], [[0.0, 0.0], [0.0, 0.45], [0.45, 0.45]],
                    [[0.55, 0.55], [1.0, 1.0], [1.0, 0.55]], [[0.55, 0.55], [0.55, 1.0], [1.0, 1.0]]])
    texels = bake.texel_map(positions, triangles, uvs, 64)
    camera = front_orthographic(positions.min(0), positions.max(0), 64, 64)
    image = np.ones((64, 64, 4))
    color, weight = bake.bake_views(texels, positions, triangles, [bake.View(camera, image)])
    front = texels.points[:, 1] < 0.5
    assert (weight[front] > 0).all()
    assert (weight[~front] == 0).all()


def test_unseen_texels_take_nearest_seen_colour_and_gutters_fill():
    points = np.array([[0.0, 0, 0], [1.0, 0, 0], [0.1, 0, 0], [0.9, 0, 0]])
    values = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 0, 0], [0, 0, 0]])
    known = np.array([True, True, False, False])
    filled = bake.fill_unseen(values, known, points)
    assert filled[2, 0] > 0.9 and filled[3, 2] > 0.9
    image = np.zeros((4, 4, 1))
    image[1, 1] = 0.7
    mask = np.zeros((4, 4), dtype=bool)
    mask[1, 1] = True
    assert (bake.dilate(image, mask) == 0.7).all()


def test_bake_checks_the_cancel_token(sphere_with_uvs):
    positions, triangles, uvs = sphere_with_uvs
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        bake.texel_map(positions, triangles, uvs, 64, check=token.check)


def test_psnr_and_rgba8():
    assert bake.psnr(np.zeros(4), np.zeros(4)) == float("inf")
    assert bake.psnr(np.zeros(4), np.full(4, 0.1)) == pytest.approx(20.0)
    rgba = bake.to_rgba8(np.full((2, 2, 1), 0.5))
    assert rgba.shape == (2, 2, 4) and rgba.dtype == np.uint8 and (rgba[..., 3] == 255).all()
