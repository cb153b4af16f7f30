"""Barrels: bulging revolved staves with metal hoops; wooden cask or steel drum."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import count_word
from ..draw import Draw
from ..registry import Category
from ..sdf import Lathe, Torus, rod


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("barrel", d)
    style = d.choice("style", ["cask", "drum"], weights=[3, 1])
    fam = d.family(["wood"] if style == "cask" else ["metal"])
    h = d.height(0.7, 1.0)
    r = d.size(0.25, 0.35)
    bulge = d.uniform(1.1, 1.22) if style == "cask" else 1.0
    zs = np.linspace(0, h, 7)
    radii = r * (1 + (bulge - 1) * np.sin(np.pi * zs / h))
    profile = [(0.0, 0.0)] + list(zip(radii, zs)) + [(0.0, h)]
    b.part("body", fam, Lathe(profile, 20), primary=True)
    n = d.choice("hoops", [2, 3, 4]) if style == "cask" else 2
    hoop_z = np.linspace(h * 0.1, h * 0.9, n) if n > 2 else [h * 0.12, h * 0.88]
    hoop_fam = "metal"
    hoops = [Torus(float(np.interp(z, zs, radii)), d.uniform(0.008, 0.014), segments=20, sides=4).at(0, 0, float(z))
             for z in hoop_z]
    b.part("hoop", hoop_fam, *hoops)
    b.feature(f"{count_word(n)} metal hoops")
    if style == "cask" and d.chance(0.35):
        z = h * 0.25
        x = float(np.interp(z, zs, radii))
        b.part("tap", "metal", rod((x - 0.01, 0, z), (x + 0.06, 0, z), 0.012, 8),
               rod((x + 0.05, 0, z), (x + 0.05, 0, z - 0.04), 0.008, 8))
        b.feature("a tap")
    return b


CATEGORY = Category(
    name="barrel",
    descriptions=("a barrel", "a wooden barrel", "a cask", "an oil drum", "a wine barrel with metal hoops",
                  "a round container made of staves"),
    build=build,
    options={"style": {"cask": "made of wooden staves", "drum": "like a steel oil drum"}},
)
