"""Bilinear image lookups and the UV <-> pixel convention shared by bake and render.

UV (0,0) is the bottom-left of a texture (Blender/glTF); image row 0 is the top.
"""
from __future__ import annotations

import numpy as np


def uv_to_pixel(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """UV coordinates -> continuous pixel coordinates (x right, y down, centres at +0.5)."""
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack([uv[..., 0] * width, (1.0 - uv[..., 1]) * height], axis=-1)


def bilinear(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Sample ``image`` (H,W,C) at continuous pixel coordinates ``xy`` (N,2), clamped to the edge."""
    height, width = image.shape[:2]
    x = np.clip(xy[:, 0] - 0.5, 0.0, width - 1.0)
    y = np.clip(xy[:, 1] - 0.5, 0.0, height - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), width - 2) if width > 1 else np.zeros(len(x), np.int64)
    y0 = np.minimum(np.floor(y).astype(np.int64), height - 2) if height > 1 else np.zeros(len(y), np.int64)
    x1 = np.minimum(x0 + 1, width - 1)
    y1 = np.minimum(y0 + 1, height - 1)
    fx = (x - x0)[:, None]
    fy = (y - y0)[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy
