"""Mugs and cups: a hollow revolved body (straight, tapered or belly) with a ring handle."""
import numpy as np

from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import Torus, revolve_wall


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("mug", d)
    fam = d.family(["ceramic", "ceramic", "metal", "glass"])
    if fam in ("ceramic",):
        b.paint(fam, 0.5)
    h = d.height(0.08, 0.12)
    r = d.size(0.035, 0.05)
    style = d.choice("shape", ["straight", "tapered", "belly"])
    if style == "straight":
        outer = [(r, 0.0), (r, h)]
    elif style == "tapered":
        outer = [(r * 0.8, 0.0), (r * 1.05, h)]
        b.feature("a tapered body")
    else:
        outer = [(r * 0.85, 0.0), (r * 1.1, h * 0.4), (r, h)]
        b.feature("a rounded belly")
    wall = d.uniform(0.003, 0.006)
    b.part("body", fam, revolve_wall(outer, wall, wall * 1.5, 20), primary=True)
    major = h * d.uniform(0.25, 0.32)
    minor = d.uniform(0.004, 0.008)
    x = float(np.interp(h / 2, [p[1] for p in outer], [p[0] for p in outer])) - minor
    handle = Torus(major, minor, arc=np.pi * 1.1, segments=12, sides=6).rotated("z", -np.pi / 2).rotated("x", np.pi / 2)
    b.part("handle", fam, handle.at(x, 0, h * 0.5), primary=True)
    b.feature("a handle")
    return b


CATEGORY = Category(
    name="mug",
    descriptions=("a mug", "a coffee mug", "a cup with a handle", "a tea cup", "something to drink hot coffee from"),
    build=build,
    options={"shape": {"straight": "with straight sides", "tapered": "that widens toward the rim",
                       "belly": "with a rounded belly"}},
)
