"""Sofas: two to four seat cushions, arms (square or rolled), legs or plinth, optional chaise."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import TUCK, count_word, four_legs
from ..draw import Draw
from ..registry import Category
from ..sdf import Lathe, slab


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("sofa", d)
    fam = d.family(["fabric", "fabric", "leather"])
    b.paint(fam, 0.6)
    seats = d.choice("seats", [2, 3, 4], weights=[3, 4, 1])
    seat_w = d.uniform(0.55, 0.7)
    arm_w = d.uniform(0.12, 0.25)
    depth = d.size(0.8, 1.0)
    w = seats * seat_w + 2 * arm_w
    hw, hd = w / 2, depth / 2
    seat_h = d.height(0.4, 0.46)
    back_h = d.height(0.35, 0.5)
    legs = d.uniform(0.08, 0.16) if d.chance(0.7) else 0.0
    cushion_t = d.uniform(0.1, 0.16)
    base_top = seat_h - cushion_t
    # the base sits TUCK inside the arms' and back's outer faces (no shared planes)
    b.part("base", fam, slab(-hw + TUCK, hw - TUCK, -hd + TUCK, hd - TUCK, legs + TUCK, base_top, radius=0.03),
           primary=True)
    b.part("back", fam, slab(-hw + arm_w, hw - arm_w, hd - d.uniform(0.15, 0.25), hd, legs, seat_h + back_h, radius=0.05),
           primary=True)
    arm_top = seat_h + d.uniform(0.1, 0.22)
    arms = d.choice("arms", ["square", "rolled"])
    sides = []
    for s in (-1, 1):
        x0, x1 = sorted((s * hw, s * (hw - arm_w)))
        if arms == "rolled":
            sides.append(slab(x0, x1, -hd, hd, legs, arm_top - arm_w / 2, radius=0.03))
            # the roll's ends stand TUCK proud of the arm's front and back faces
            roll = Lathe([(0, -TUCK), (arm_w * 0.55, -TUCK), (arm_w * 0.55, depth + TUCK), (0, depth + TUCK)], 12)
            sides.append(roll.rotated("x", -np.pi / 2).at((x0 + x1) / 2, -hd, arm_top - arm_w / 2))
        else:
            sides.append(slab(x0, x1, -hd, hd, legs, arm_top, radius=0.04))
    b.part("arm", fam, *sides, primary=True)
    b.feature(f"{arms} arms")
    b.part("cushion", fam, *[slab(-hw + arm_w + k * seat_w + 0.01, -hw + arm_w + (k + 1) * seat_w - 0.01, -hd + 0.03,
                                  hd - 0.22, base_top, seat_h, radius=0.03) for k in range(seats)], primary=True)
    b.feature(f"{count_word(seats)} seat cushions")
    if legs:
        b.part("leg", d.choice("leg material", ["wood", "metal"]), *four_legs(hw, hd, 0.06, legs, 0.05, d.chance(0.5)))
        b.feature("short legs")
    b.noun = {2: "loveseat", 3: "sofa", 4: "large sofa"}[seats] if d.chance(0.5) else "sofa"
    return b


CATEGORY = Category(
    name="sofa",
    descriptions=("a sofa", "a couch", "a settee for several people", "a loveseat", "an upholstered couch for the living room",
                  "a long padded seat with a back and arms"),
    build=build,
    options={"arms": {"square": "with square arms", "rolled": "with rolled arms"},
             "seats": {2: "with two seats", 3: "with three seats", 4: "with four seats"}},
)
