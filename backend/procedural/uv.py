"""Pack UV islands of a whole asset into the unit square at one texel density (shelf packing)."""
from __future__ import annotations

import numpy as np


def pack_islands(corner_uv: np.ndarray, corner_island: np.ndarray, margin: float = 0.02) -> np.ndarray:
    """Return UVs in [0,1]^2: every island (corners sharing an id) keeps its shape and true scale
    relative to the others, islands never overlap, with ``margin`` (in units of the final square)."""
    ids, inverse = np.unique(corner_island, return_inverse=True)
    lo = np.full((len(ids), 2), np.inf)
    hi = np.full((len(ids), 2), -np.inf)
    np.minimum.at(lo, inverse, corner_uv)
    np.maximum.at(hi, inverse, corner_uv)
    size = np.maximum(hi - lo, 1e-9)
    # rotate tall islands to lie flat: shelves pack wide islands better
    tall = size[:, 1] > size[:, 0]
    local = corner_uv - lo[inverse]
    local[tall[inverse]] = local[tall[inverse]][:, ::-1]
    size[tall] = size[tall][:, ::-1]
    pad = margin * np.sqrt(size.prod(1).sum())
    order = np.argsort(-size[:, 1], kind="stable")
    width = max(np.sqrt((size + pad).prod(1).sum()) * 1.15, (size[:, 0] + pad).max())
    origin = np.zeros((len(ids), 2))
    x = y = shelf = 0.0
    for i in order:
        w, h = size[i] + pad
        if x + w > width and x > 0:
            x, y, shelf = 0.0, y + shelf, 0.0
        origin[i] = (x + pad / 2, y + pad / 2)
        x += w
        shelf = max(shelf, h)
    extent = max(width, y + shelf)
    return ((local + origin[inverse]) / extent).astype(np.float32)
