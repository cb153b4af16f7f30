"""Bake round trip: render a known textured mesh from several views, bake back, compare (PSNR).

For each mesh: xatlas UVs, a ground-truth texture baked from a colour field (a smooth one, and a
detailed one with features a few texels wide), unlit renders from 14 views, then
  kiln      bake.bake_views: per-texel projection, depth-map visibility, view-angle blending
  baseline  the same views sampled at the vertices only, colours interpolated across faces
            (what vertex-colour projection gives), measured in the same run.
PSNR over covered texels, and time of each relative to the baseline.

    nice -n 10 .venv/bin/python bench/texture.py [--size 256] [--render 512]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.geometry import bake  # noqa: E402
from backend.geometry.camera import look_at  # noqa: E402
from backend.geometry.render import render_textured  # noqa: E402
from backend.geometry.uv_unwrap import unwrap_triangles  # noqa: E402
from tests import mesh_corpus  # noqa: E402


def smooth(points, normals):
    return {"base_color": 0.5 + 0.4 * np.sin(np.stack([2 * points[:, 0] + 1, 2.5 * points[:, 1],
                                                       1.5 * points[:, 2] - 0.5], 1))}


def detailed(points, normals):
    return {"base_color": 0.5 + 0.45 * np.sin(np.stack([23 * points[:, 0] + 1, 19 * points[:, 1],
                                                        29 * points[:, 2] - 0.5], 1))}


def directions() -> list[np.ndarray]:
    axes = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
    corners = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    return [np.asarray(d, dtype=float) / np.linalg.norm(d) for d in axes + corners]


def vertex_color_baseline(texels, positions, triangles, views):
    """Project the views onto vertices only; interpolate vertex colours inside each texel's face."""
    normals = bake.vertex_normals(positions, triangles)
    color = np.zeros((len(positions), 3))
    weight = np.zeros(len(positions))
    for view in views:
        seen, xy, facing = bake.visible(view.camera, positions, triangles, positions, normals)
        keep = seen & (facing > 0.05)
        image = view.image
        col = np.clip(xy[keep, 0].astype(int), 0, image.shape[1] - 1)
        row = np.clip(xy[keep, 1].astype(int), 0, image.shape[0] - 1)
        w = facing[keep] ** 4 * image[row, col, 3]
        color[keep] += image[row, col, :3] * w[:, None]
        weight[keep] += w
    color = bake.fill_unseen(np.divide(color, weight[:, None], out=np.zeros_like(color), where=weight[:, None] > 0),
                             weight > 0, positions)
    # barycentric interpolation at each texel: recover barycentrics from the texel's 3D point
    tri = positions[triangles[texels.face]]
    v0, v1, v2 = tri[:, 0], tri[:, 1], tri[:, 2]
    d = texels.points - v0
    e1, e2 = v1 - v0, v2 - v0
    d00, d01, d11 = (e1 * e1).sum(1), (e1 * e2).sum(1), (e2 * e2).sum(1)
    d20, d21 = (d * e1).sum(1), (d * e2).sum(1)
    den = np.maximum(d00 * d11 - d01 * d01, 1e-30)
    b1 = (d11 * d20 - d01 * d21) / den
    b2 = (d00 * d21 - d01 * d20) / den
    bary = np.stack([1 - b1 - b2, b1, b2], 1)
    return np.einsum("nk,nkc->nc", bary, color[triangles[texels.face]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="texture size")
    parser.add_argument("--render", type=int, default=512, help="render size of each view")
    args = parser.parse_args()
    print(f"{'mesh':<12}{'field':<10}{'faces':>7}{'coverage':>10}{'kiln dB':>9}{'base dB':>9}{'kiln s':>8}{'base s':>8}")
    totals = {"kiln": 0.0, "base": 0.0}
    for name in ("uv_sphere", "torus", "cow", "bunny10k"):
        mesh = mesh_corpus.load(name)
        positions = mesh.positions.astype(np.float64)
        positions = (positions - positions.mean(0)) / np.linalg.norm(positions.max(0) - positions.min(0))
        triangles = mesh.triangulated().astype(np.int64)
        uvs, _ = unwrap_triangles(positions, triangles, args.size)
        uvs = uvs.astype(np.float64)
        texels = bake.texel_map(positions, triangles, uvs, args.size)
        for field_name, field in (("smooth", smooth), ("detailed", detailed)):
            truth = bake.bake_field(texels, field)["base_color"]
            texture = bake.dilate(texels.image(truth), texels.mask)
            views = []
            for d in directions():
                camera = look_at(1.6 * d, [0, 0, 0], args.render, args.render, fov_y=np.radians(45))
                views.append(bake.View(camera, render_textured(positions, triangles, uvs, texture, camera)))
            start = time.perf_counter()
            color, weight = bake.bake_views(texels, positions, triangles, views)
            color = bake.fill_unseen(color, weight > 0, texels.points)
            kiln_s = time.perf_counter() - start
            start = time.perf_counter()
            base = vertex_color_baseline(texels, positions, triangles, views)
            base_s = time.perf_counter() - start
            totals["kiln"] += kiln_s
            totals["base"] += base_s
            print(f"{name:<12}{field_name:<10}{len(triangles):>7}{(weight > 0).mean():>10.3f}"
                  f"{bake.psnr(color, truth):>9.1f}{bake.psnr(np.clip(base, 0, 1), truth):>9.1f}"
                  f"{kiln_s:>8.2f}{base_s:>8.2f}")
    print(f"time kiln / baseline: {totals['kiln'] / max(totals['base'], 1e-9):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
