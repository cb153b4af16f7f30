"""The object mask of a reference image: its alpha channel, or, for an opaque image, an estimate.

An opaque image (RGB, or RGBA whose alpha is all 255) gets a mask by its border colour: the
median colour of the outer frame of pixels is taken as the background, and the pixels close to
it (within ``tolerance`` in RGB, 0..1) that are connected to the frame are background; everything
else is the object. That fits product shots and renders on a plain backdrop. When the frame is not
one colour (a photo of a room) or nothing is left, the whole image is used, and the method says so.
"""
from __future__ import annotations

import numpy as np

OPAQUE = 250          # alpha at or above this everywhere: the image has no transparency
FRAME = 2             # border width in pixels
UNIFORM_SHARE = 0.7   # share of the frame that must match its median colour


def object_mask(image: np.ndarray, tolerance: float = 0.12) -> tuple[np.ndarray, str]:
    """(alpha (H,W) float32 in [0,1], how it was found) for a uint8 (H,W,3|4) image."""
    from scipy.ndimage import label

    image = np.asarray(image)
    if image.shape[2] == 4 and image[..., 3].min() < OPAQUE:
        return image[..., 3].astype(np.float32) / 255.0, "alpha channel"
    rgb = image[..., :3].astype(np.float32) / 255.0
    frame = np.zeros(rgb.shape[:2], dtype=bool)
    frame[:FRAME], frame[-FRAME:], frame[:, :FRAME], frame[:, -FRAME:] = True, True, True, True
    backdrop = np.median(rgb[frame], axis=0)
    close = np.linalg.norm(rgb - backdrop, axis=2) < tolerance
    whole = np.ones(rgb.shape[:2], dtype=np.float32)
    if close[frame].mean() < UNIFORM_SHARE:
        return whole, ("no mask: the image has no transparency and its border is not one colour, so the whole "
                       "image was used; give an image with a transparent background for a better shape")
    regions, _ = label(close)
    background = np.isin(regions, np.unique(regions[frame & close]))
    if background.mean() > 0.995:
        return whole, "no mask: nothing differs from the border colour, so the whole image was used"
    return (~background).astype(np.float32), ("estimated: the image has no transparency, so pixels of its "
                                              "border colour connected to the border were taken as background")
