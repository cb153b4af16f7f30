"""The publishers' image preprocessing, on uint8 RGB/RGBA arrays (row 0 at the top).

Both publishers expect an object cut out of its background. An RGBA image whose alpha really
separates object from background (TripoSG's own test: at least 1% of the pixels fully
transparent and 1% fully opaque) is used as is. Otherwise - an RGB image, or alpha that is
everywhere opaque - the publishers run a background-removal network (RMBG / BiRefNet) that Kiln
does not ship. **Stated fallback:** Kiln's border-colour estimate (``backend/models/image_mask.py``):
pixels of the border's median colour connected to the border are background; when the border is
not one colour or nothing differs from it, the whole image is the object. Cut the object out
(alpha) for best results.

- :func:`triposg_image`: TripoSG's ``scripts/image_process.py``: composite over white, crop to
  the mask's bounding box, pad by 10% of the longer side and to a square with white.
- :func:`hunyuan_image`: Hunyuan3D-2.1's ``ImageProcessorV2.recenter`` + its DINO transform:
  the crop scaled to 85% (border 0.15) of a white square canvas, resized to the encoder's size,
  normalised with ImageNet statistics.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from backend.models.image_mask import object_mask as estimate_mask

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_image(image: np.ndarray) -> np.ndarray:
    """The image as uint8 (H,W,3|4), or ValueError saying what is wrong."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (H,W,3) or (H,W,4), got {image.dtype} {image.shape}")
    if min(image.shape[:2]) < 8:
        raise ValueError(f"image {image.shape[1]}x{image.shape[0]} is too small (at least 8x8)")
    return image


def alpha_is_valid(alpha: np.ndarray, min_ratio: float = 0.01) -> bool:
    """TripoSG's test: the lowest and highest of 20 histogram bins each hold >= 1% of the pixels."""
    hist, _ = np.histogram(alpha, bins=20, range=(0, 256))
    need = alpha.size * min_ratio
    return bool(hist[0] >= need and hist[-1] >= need)


def object_mask(image: np.ndarray) -> tuple[np.ndarray, str]:
    """(alpha in [0, 1] (H,W), how it was found: 'alpha', 'border colour' or 'whole image').

    Without valid alpha, Kiln's one estimate for opaque images (:mod:`backend.models.image_mask`).
    """
    image = check_image(image)
    if image.shape[2] == 4 and alpha_is_valid(image[..., 3]):
        return image[..., 3].astype(np.float32) / 255.0, "alpha"
    mask, how = estimate_mask(image[..., :3])
    return mask, "whole image" if how.startswith("no mask") else "border colour"


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask > 0)
    if len(rows) == 0:
        raise ValueError("the image's object mask is empty: nothing to condition on")
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def triposg_image(image: np.ndarray, padding_ratio: float = 0.1) -> np.ndarray:
    """TripoSG's input: float RGB in [0, 1], the object on white, padded to a square."""
    alpha, _ = object_mask(image)
    rgb = image[..., :3].astype(np.float32) / 255.0
    rgb = rgb * alpha[..., None] + (1.0 - alpha[..., None])
    top, bottom, left, right = _bbox(alpha)
    h, w = bottom - top, right - left
    if w > h:
        side = int(w * padding_ratio)
        vertical = int(side + (w - h) / 2)
    else:
        vertical = int(h * padding_ratio)
        side = int(vertical + (h - w) / 2)
    crop = rgb[top:bottom, left:right]
    return np.pad(crop, ((vertical, vertical), (side, side), (0, 0)), constant_values=1.0)


def triposg_pixels(image: np.ndarray, processor) -> torch.Tensor:
    """(1,3,S,S) DINOv2 input: :func:`triposg_image` through the folder's BitImageProcessor."""
    from PIL import Image

    padded = triposg_image(check_image(image))
    pil = Image.fromarray((padded * 255).astype(np.uint8))
    return processor(pil, return_tensors="pt").pixel_values


def hunyuan_image(image: np.ndarray, size: int, border_ratio: float = 0.15) -> np.ndarray:
    """Hunyuan3D-2.1's recentred input: float RGB in [0, 1], (size, size, 3)."""
    alpha, _ = object_mask(image)
    rgba = np.concatenate([image[..., :3].astype(np.float32) / 255.0, alpha[..., None]], axis=-1)
    top, bottom, left, right = _bbox(alpha)
    h, w = bottom - top, right - left
    canvas_side = max(image.shape[:2])
    scale = int(canvas_side * (1 - border_ratio)) / max(h, w)
    h2, w2 = max(1, int(h * scale)), max(1, int(w * scale))
    crop = _resize(rgba[top:bottom, left:right], h2, w2, "area")
    canvas = np.zeros((canvas_side, canvas_side, 4), np.float32)
    y0, x0 = (canvas_side - h2) // 2, (canvas_side - w2) // 2
    canvas[y0:y0 + h2, x0:x0 + w2] = crop
    rgb = canvas[..., :3] * canvas[..., 3:] + (1.0 - canvas[..., 3:])
    return np.clip(_resize(rgb, size, size, "bicubic"), 0.0, 1.0)


def hunyuan_pixels(image: np.ndarray, size: int) -> torch.Tensor:
    """(1,3,size,size) DINOv2 input normalised with ImageNet statistics (their DinoImageEncoder)."""
    rgb = torch.from_numpy(hunyuan_image(check_image(image), size)).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((rgb - mean) / std)[None]


def _resize(array: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)[None]
    if mode == "area":
        out = F.interpolate(tensor, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    else:
        out = F.interpolate(tensor, size=(height, width), mode="bicubic", align_corners=False)
    return out[0].permute(1, 2, 0).numpy()
