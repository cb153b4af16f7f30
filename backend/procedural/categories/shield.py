"""Shields: round, heater or kite outlines (stood upright on their rim), with boss, rim and straps."""
import numpy as np

from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import Extrusion, Torus, cylinder, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("shield", d)
    shape = d.choice("shape", ["round", "heater", "kite"])
    fam = d.family(["wood", "metal"])
    b.paint(fam, 0.5)
    size = d.size(0.5, 0.9)
    t = d.uniform(0.02, 0.035)
    if shape == "round":
        r = size / 2
        b.part("board", fam, cylinder(r, t, 20).rotated("x", np.pi / 2).at(0, t / 2, r), primary=True)
        if d.chance(0.7):
            b.part("rim", "metal", Torus(r, t * 0.6, segments=24, sides=6).rotated("x", np.pi / 2).at(0, 0, r))
            b.feature("a metal rim")
        b.part("boss", "metal", sphere(r * 0.22, 12, 6).at(0, -t / 2, r))
        b.feature("a central boss")
    else:
        w = size * (0.75 if shape == "heater" else 0.6)
        h = size * (1.0 if shape == "heater" else 1.35)
        if shape == "heater":
            outline = [(-w / 2, h), (-w / 2, h * 0.55), (-w * 0.3, h * 0.2), (0, 0), (w * 0.3, h * 0.2), (w / 2, h * 0.55),
                       (w / 2, h)]
        else:
            outline = [(-w / 2, h * 0.85), (-w * 0.4, h * 0.55), (0, 0), (w * 0.4, h * 0.55), (w / 2, h * 0.85),
                       (0, h)]
        b.part("board", fam, Extrusion(outline, t).rotated("x", np.pi / 2), primary=True)
        if d.chance(0.5):
            b.part("boss", "metal", sphere(w * 0.12, 10, 5).at(0, -t / 2, h * 0.6))
            b.feature("a central boss")
    b.part("strap", "leather", cylinder(0.02, 0.25, 6).at(0, t / 2 + 0.012, size * 0.35))
    b.feature(f"a {shape} shape")
    return b


CATEGORY = Category(
    name="shield",
    descriptions=("a shield", "a round shield", "a knight's shield", "a wooden buckler", "a kite shield",
                  "armour held in the hand to block attacks"),
    build=build,
    options={"shape": {"round": "that is round", "heater": "shaped like a heater shield", "kite": "shaped like a kite"}},
)
