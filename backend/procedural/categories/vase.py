"""Vases: hollow revolved vessels from a family of silhouettes (amphora, cylinder, bulb, trumpet),
optional handles."""
import numpy as np

from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import Torus, revolve_wall


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("vase", d)
    fam = d.family(["ceramic", "ceramic", "glass", "stone", "metal"])
    b.paint(fam, 0.4)
    h = d.height(0.2, 0.5)
    r = d.size(0.06, 0.12)
    style = d.choice("shape", ["amphora", "cylinder", "bulb", "trumpet"])
    t = np.linspace(0, 1, 7)
    if style == "amphora":
        radii = r * (0.5 + 0.7 * np.sin(np.pi * np.clip(t * 1.2, 0, 1)) ** 1.2 + 0.35 * (t > 0.85))
    elif style == "cylinder":
        radii = r * (0.85 + 0.1 * t)
    elif style == "bulb":
        radii = r * (0.6 + 0.8 * np.sin(np.pi * np.clip(t * 1.5, 0, 1)) + 0.25 * t ** 4)
    else:
        radii = r * (0.55 + 0.1 * t + 0.6 * t ** 3)
    radii = np.maximum(radii, r * 0.3)
    outer = list(zip(radii, t * h))
    wall = d.uniform(0.004, 0.008)
    b.part("body", fam, revolve_wall(outer, wall, wall * 2, 20), primary=True)
    b.feature(f"an {style} silhouette" if style[0] in "aeiou" else f"a {style} silhouette")
    if d.chance(0.3):
        z = h * 0.72
        x = float(np.interp(z, t * h, radii))
        major = h * 0.12
        handle = Torus(major, 0.006, arc=np.pi, segments=10, sides=6).rotated("z", -np.pi / 2).rotated("x", np.pi / 2)
        b.part("handle", fam, handle.at(x - 0.004, 0, z), handle.rotated("z", np.pi).at(-x + 0.004, 0, z), primary=True)
        b.feature("two handles")
    return b


CATEGORY = Category(
    name="vase",
    descriptions=("a vase", "a flower vase", "a ceramic vase", "an amphora", "a decorative pot for cut flowers",
                  "an urn"),
    build=build,
    options={"shape": {"amphora": "shaped like an amphora", "cylinder": "with straight cylindrical sides",
                       "bulb": "with a round bulbous body", "trumpet": "flaring out like a trumpet"}},
)
