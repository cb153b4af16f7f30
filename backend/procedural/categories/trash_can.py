"""Trash cans: open bins, swing-lid bins, pedal bins and round metal cans with lids and handles."""
import numpy as np

from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import Box, Lathe, Torus, box, cylinder, revolve_wall, slab


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("trash_can", d)
    fam = d.family(["metal", "metal", "plastic"])
    b.paint(fam, 0.3 if fam == "metal" else 0.6)
    h = d.height(0.4, 0.8)
    r = d.size(0.14, 0.25)
    shape = d.choice("shape", ["round", "square"])
    if shape == "round":
        b.part("body", fam, revolve_wall([(r * 0.85, 0.0), (r, h)], 0.006, 0.01, 20), primary=True)
    else:
        hw = r * 0.9
        walls = [slab(-hw, hw, -hw, -hw + 0.01, 0, h), slab(-hw, hw, hw - 0.01, hw, 0, h),
                 slab(-hw, -hw + 0.01, -hw + 0.01, hw - 0.01, 0, h), slab(hw - 0.01, hw, -hw + 0.01, hw - 0.01, 0, h),
                 slab(-hw + 0.01, hw - 0.01, -hw + 0.01, hw - 0.01, 0, 0.01)]  # floor between the walls
        b.part("body", fam, *walls, primary=True)
    lid = d.choice("lid", ["none", "flat", "dome"], weights=[2, 2, 1])
    if lid != "none":
        lr = r * 1.04 if shape == "round" else r * 0.95
        if shape == "round":
            top = cylinder(lr, 0.02, 20).at(0, 0, h) if lid == "flat" else \
                Lathe([(0, h), (lr, h), (lr, h + 0.02), (lr * 0.7, h + 0.06), (0, h + 0.075)], 20)
        else:
            top = box((2 * lr, 2 * lr, 0.02), (0, 0, h + 0.01)) if lid == "flat" else \
                Box((2 * lr, 2 * lr, 0.08), radius=0.035).at(0, 0, h + 0.03)
        b.part("lid", fam, top, primary=True)
        b.part("handle", "metal" if fam == "metal" else "plastic",
               Torus(0.04, 0.006, arc=np.pi, segments=8, sides=6).rotated("x", np.pi / 2).at(0, 0, h + (0.02 if lid == "flat" else 0.07)))
        b.feature(f"a {lid} lid with a handle")
    else:
        b.feature("an open top")
    if d.chance(0.3):
        b.part("pedal", "metal", box((0.08, 0.06, 0.015), (0, -r * 0.9 - 0.025, 0.03)))
        b.feature("a foot pedal")
    return b


CATEGORY = Category(
    name="trash_can",
    descriptions=("a trash can", "a garbage bin", "a waste basket", "a rubbish bin", "a dustbin with a lid",
                  "a bin for throwing away waste"),
    build=build,
    options={"shape": {"round": "that is round", "square": "that is square"},
             "lid": {"none": "without a lid", "flat": "with a flat lid", "dome": "with a domed lid"}},
)
