"""Unlit software rendering of a textured mesh (for bake round-trip tests and previews)."""
from __future__ import annotations

import numpy as np

from .camera import Camera
from .image_sampling import bilinear, uv_to_pixel
from .raster import rasterize


def render_textured(positions: np.ndarray, triangles: np.ndarray, corner_uvs: np.ndarray,
                    texture: np.ndarray, camera: Camera) -> np.ndarray:
    """RGBA float image (H,W,4): the texture's colour where the mesh covers a pixel, alpha 1 there.

    ``corner_uvs`` (T,3,2) per triangle corner; ``texture`` (h,w,3) float; nearest surface wins.
    """
    xy, depth = camera.project(positions)
    raster = rasterize(xy[triangles], camera.width, camera.height, depth=depth[triangles])
    image = np.zeros((camera.height, camera.width, 4))
    covered = raster.mask
    face = raster.face[covered]
    uv = np.einsum("nk,nkd->nd", raster.bary[covered], corner_uvs[face])
    tex_h, tex_w = texture.shape[:2]
    image[covered, :3] = bilinear(np.asarray(texture, dtype=np.float64), uv_to_pixel(uv, tex_w, tex_h))
    image[covered, 3] = 1.0
    return image
