"""Rocks: faceted convex boulders (hulls of jittered points), slabs, or a pile of stones."""
import numpy as np

from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import Hull


def _boulder(d: Draw, radius: float, flatten: float, points: int) -> Hull:
    directions = d.rng.normal(size=(points, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = radius * d.rng.uniform(0.85, 1.0, size=(points, 1))
    pts = directions * radii * np.array([1.0, d.uniform(0.7, 1.0), flatten])
    return Hull(pts)


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("rock", d)
    fam = d.family(["stone"])
    style = d.choice("style", ["boulder", "slab", "pile"])
    size = d.size(0.3, 1.5)
    facets = d.integer(14, 30)
    if style == "boulder":
        stones = [_boulder(d, size / 2, d.uniform(0.6, 0.95), facets)]
        b.feature("rough facets")
    elif style == "slab":
        stones = [_boulder(d, size / 2, d.uniform(0.2, 0.35), facets)]
        b.feature("a flat top")
    else:
        stones = []
        for k in range(d.integer(3, 5)):
            r = size / 2 * d.uniform(0.35, 0.6)
            a = d.uniform(0, 2 * np.pi)
            off = 0.0 if k == 0 else size / 2 * d.uniform(0.3, 0.45)
            stones.append(_boulder(d, r, d.uniform(0.5, 0.9), max(12, facets // 2)).at(np.cos(a) * off, np.sin(a) * off,
                                                                                           0.0 if k else r * 0.3))
        b.feature(f"{len(stones)} stones piled together")
    b.part("rock", fam, *stones, primary=True)
    if d.chance(0.35):
        vertices = np.concatenate([p.vertices for s in stones for p in s.pieces()])
        peak = vertices[vertices[:, 2].argmax()]
        b.part("moss", "foliage", _boulder(d, size * 0.18, 0.3, 10).at(peak[0], peak[1], peak[2] - size * 0.03))
        b.feature("a patch of moss")
    b.noun = {"boulder": "rock", "slab": "flat rock", "pile": "pile of rocks"}[style]
    return b


CATEGORY = Category(
    name="rock",
    descriptions=("a rock", "a boulder", "a stone", "a low poly rock", "a pile of stones", "a big grey rock on the ground"),
    build=build,
    options={"style": {"boulder": "that is a rounded boulder", "slab": "that is a flat slab", "pile": "made of several stones"}},
)
