"""A contact sheet: one asset per category, drawn by a small z-buffer software renderer (numpy;
matplotlib only lays out the grid), so a person sees the variety at a glance."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.payload import MeshPayload

from .registry import categories, generate

LIGHT = np.array([0.4, -0.6, 0.7]) / np.linalg.norm([0.4, -0.6, 0.7])


def _view(azimuth: float, elevation: float) -> np.ndarray:
    """Rows: screen x, screen y, towards-the-viewer axes for a camera orbiting the z axis."""
    a, e = np.radians(azimuth), np.radians(elevation)
    forward = np.array([np.sin(a) * np.cos(e), -np.cos(a) * np.cos(e), np.sin(e)])  # from object to eye
    right = np.cross([0.0, 0.0, 1.0], forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    return np.stack([right, up, forward])


def rasterize(mesh: MeshPayload, size: int = 256, azimuth: float = 35.0, elevation: float = 22.0) -> np.ndarray:
    """Render ``mesh`` to an RGB float image (size, size, 3) with a z-buffer, flat shading by
    part material and dark lines where neighbouring pixels belong to different polygons."""
    view = _view(azimuth, elevation)
    pos = mesh.positions.astype(np.float64)
    pos = pos - (pos.min(0) + pos.max(0)) / 2
    screen = pos @ view.T
    extent = np.abs(screen[:, :2]).max() * 1.08
    px = (screen[:, :2] / extent * 0.5 + 0.5) * (size - 1)
    px[:, 1] = (size - 1) - px[:, 1]  # image rows grow downward
    tris = mesh.triangulated()
    face_of = mesh.triangle_face_ids()
    a, b, c = pos[tris[:, 0]], pos[tris[:, 1]], pos[tris[:, 2]]
    normals = np.cross(b - a, c - a)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    part_color = [np.array(mesh.materials[m].base_color[:3]) for m in mesh.part_materials] \
        if mesh.materials and mesh.part_materials else [np.full(3, 0.7)] * max(len(mesh.part_names), 1)
    parts = mesh.part_ids if mesh.part_ids is not None else np.zeros(mesh.num_faces, dtype=np.int32)
    depth = np.full((size, size), -np.inf)
    face_id = np.full((size, size), -1)
    for t in range(len(tris)):
        corners = px[tris[t]]
        z = screen[tris[t], 2]
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int), size - 1)
        if x1 < x0 or y1 < y0:
            continue
        gx, gy = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        (ax_, ay), (bx, by), (cx, cy) = corners
        area = (bx - ax_) * (cy - ay) - (cx - ax_) * (by - ay)
        if abs(area) < 1e-12:
            continue
        w0 = ((bx - gx) * (cy - gy) - (cx - gx) * (by - gy)) / area
        w1 = ((cx - gx) * (ay - gy) - (ax_ - gx) * (cy - gy)) / area
        w2 = 1 - w0 - w1
        inside = (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
        zz = w0 * z[0] + w1 * z[1] + w2 * z[2]
        window = depth[y0:y1 + 1, x0:x1 + 1]
        win = inside & (zz > window)
        window[win] = zz[win]
        face_id[y0:y1 + 1, x0:x1 + 1][win] = t
    image = np.ones((size, size, 3))
    hit = face_id >= 0
    tri = face_id[hit]
    n = normals[tri] * np.sign(np.einsum("ij,j->i", normals[tri], view[2]))[:, None]  # light both sides
    shade = 0.35 + 0.65 * np.clip(n @ LIGHT, 0.0, 1.0)
    base = np.array(part_color)[parts[face_of[tri]]]
    image[hit] = np.clip(base ** (1 / 2.2) * shade[:, None], 0, 1)
    polygon = np.where(hit, face_of[np.maximum(face_id, 0)], -1)
    edge = np.zeros((size, size), dtype=bool)
    edge[:-1] |= polygon[:-1] != polygon[1:]
    edge[:, :-1] |= polygon[:, :-1] != polygon[:, 1:]
    image[edge & hit] *= 0.6
    return image


def render_gallery(out: str | Path, seed: int = 0, columns: int = 7, per_category: int = 1, dpi: int = 90,
                   progress=None) -> Path:
    """Write a PNG grid of ``per_category`` artist meshes per category; returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(categories())
    cells = [(name, seed + k) for name in names for k in range(per_category)]
    rows = -(-len(cells) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 2.0, rows * 2.2), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(cells):
            ax.axis("off")
            continue
        name, s = cells[i]
        asset = generate(name, s)
        mesh = asset.artist_mesh()
        ax.imshow(rasterize(mesh), interpolation="lanczos")
        ax.axis("off")
        ax.set_title(f"{name} ({mesh.num_faces} faces)", fontsize=8)
        if progress:
            progress(i + 1, len(cells))
    fig.suptitle(f"Kiln procedural assets (seed {seed}): low-poly artist meshes, part materials", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
