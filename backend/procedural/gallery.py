"""A contact sheet: one asset per category, drawn with a small flat-shaded software renderer
(matplotlib polygons, painter's algorithm), so a person sees the variety at a glance."""
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


def draw_mesh(ax, mesh: MeshPayload, azimuth: float = 35.0, elevation: float = 22.0) -> None:
    """Draw ``mesh`` (polygons with part materials) into a matplotlib axis, flat shaded."""
    from matplotlib.collections import PolyCollection

    view = _view(azimuth, elevation)
    pos = mesh.positions.astype(np.float64)
    pos = pos - (pos.min(0) + pos.max(0)) / 2
    screen = pos @ view.T
    starts = mesh.face_offsets()
    polys, depth, colors = [], [], []
    part_color = [np.array(mesh.materials[m].base_color[:3]) if mesh.materials else np.full(3, 0.7)
                  for m in (mesh.part_materials or [0] * max(len(mesh.part_names), 1))]
    for f in range(mesh.num_faces):
        idx = mesh.face_indices[starts[f]:starts[f + 1]]
        p = pos[idx]
        normal = np.zeros(3)
        for k in range(len(p)):
            normal += np.cross(p[k], p[(k + 1) % len(p)])
        norm = np.linalg.norm(normal)
        if norm < 1e-12 or normal @ view[2] <= 0:
            continue  # back face
        normal /= norm
        base = part_color[mesh.part_ids[f]] if mesh.part_ids is not None else np.full(3, 0.7)
        shade = 0.35 + 0.65 * max(normal @ LIGHT, 0.0)
        polys.append(screen[idx, :2])
        depth.append(screen[idx, 2].mean())
        colors.append(np.clip(base ** (1 / 2.2) * shade, 0, 1))
    order = np.argsort(depth)
    ax.add_collection(PolyCollection([polys[i] for i in order], facecolors=[colors[i] for i in order],
                                     edgecolors=[(0, 0, 0, 0.25)], linewidths=0.3))
    extent = np.abs(screen[:, :2]).max() * 1.05
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.axis("off")


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
        draw_mesh(ax, mesh)
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
