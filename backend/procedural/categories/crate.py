"""Crates: a box of planks; slatted (gaps) or solid panels with cut hand holes, corner posts, a lid."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import TUCK
from ..draw import Draw
from ..registry import Category
from ..sdf import Box, Difference, box, slab


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("crate", d)
    fam = d.family(["wood", "wood", "plastic", "metal"])
    w = d.size(0.4, 0.8)
    depth = w * d.uniform(0.7, 1.0)
    h = d.height(0.3, 0.6) * (w / 0.6)
    t = 0.02 * (w / 0.6)
    hw, hd = w / 2, depth / 2
    b.part("bottom", fam, slab(-hw, hw, -hd, hd, TUCK, t), primary=True)  # the posts stand it TUCK off the floor
    style = d.choice("sides", ["slatted", "solid"])
    planks = []
    if style == "slatted":
        n = d.integer(2, 4)
        gap = (h - t) / n
        for k in range(n):
            z0, z1 = t + k * gap + gap * 0.12, t + (k + 1) * gap - gap * 0.12
            planks += [slab(-hw, hw, -hd, -hd + t, z0, z1), slab(-hw, hw, hd - t, hd, z0, z1),
                       slab(-hw, -hw + t, -hd + t, hd - t, z0, z1), slab(hw - t, hw, -hd + t, hd - t, z0, z1)]
        b.feature("slatted sides")
    else:
        ends = [slab(-hw, -hw + t, -hd + t, hd - t, t, h), slab(hw - t, hw, -hd + t, hd - t, t, h)]
        if d.choice("handles", ["hand holes", "none"]) == "hand holes":
            slot = Box((t * 4, min(0.14, depth * 0.35), min(0.05, h * 0.18)), radius=0.015)
            ends = [Difference(end, slot.at(x, 0, h * 0.78)) for end, x in zip(ends, (-hw + t / 2, hw - t / 2))]
            b.feature("hand holes cut into the ends")
        planks = [slab(-hw, hw, -hd, -hd + t, t, h), slab(-hw, hw, hd - t, hd, t, h), *ends]
        b.feature("solid plank sides")
    b.part("side", fam, *planks, primary=True)
    post = t * 1.6
    # the posts rise TUCK above the planks (into the lid when there is one): no shared top faces
    b.part("post", fam, *[slab(x - post / 2, x + post / 2, y - post / 2, y + post / 2, 0, h + TUCK)
                          for x in (-hw, hw) for y in (-hd, hd)], primary=True)
    b.feature("corner posts")
    if d.chance(0.4):
        b.part("lid", fam, slab(-hw - t / 2, hw + t / 2, -hd - t / 2, hd + t / 2, h, h + t), primary=True)
        b.feature("a lid")
    if d.chance(0.4) and style == "solid":
        z = float(np.clip(h * 0.5, t, h - t))
        b.part("brace", "metal", *[box((w * 1.02, t * 0.4, t * 2), (0, s * (hd + t * 0.2), z)) for s in (-1, 1)])
        b.feature("metal bands")
    return b


CATEGORY = Category(
    name="crate",
    descriptions=("a crate", "a wooden crate", "a shipping crate", "a box made of planks", "a storage box for cargo"),
    build=build,
    options={"sides": {"slatted": "with slatted sides", "solid": "with solid sides"},
             "handles": {"hand holes": "with hand holes cut into the ends", "none": "without handles"}},
)
