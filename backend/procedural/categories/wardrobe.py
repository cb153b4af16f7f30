"""Wardrobes: tall two- or three-door closets with a cornice, plinth or feet, optional drawer row."""
from ..asset import AssetBuilder
from ..builders import count_word
from ..draw import Draw
from ..registry import Category
from ..sdf import box, slab, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("wardrobe", d)
    fam = d.family(["wood", "wood", "metal"])
    doors = d.choice("doors", [2, 3], weights=[3, 1])
    w = d.size(0.45, 0.55) * doors
    h = d.height(1.8, 2.2)
    depth = d.uniform(0.5, 0.62)
    hw, hd = w / 2, depth / 2
    base = d.uniform(0.06, 0.12)
    b.part("body", fam, slab(-hw, hw, -hd + 0.02, hd, base, h), primary=True)
    b.part("base", fam, slab(-hw + 0.02, hw - 0.02, -hd + 0.04, hd - 0.02, 0, base), primary=True)
    if d.chance(0.6):
        b.part("cornice", fam, slab(-hw - 0.03, hw + 0.03, -hd - 0.02, hd + 0.03, h, h + d.uniform(0.04, 0.1)),
               primary=True)
        b.feature("a cornice on top")
    dz = base + 0.02
    fronts, handles = [], []
    if d.chance(0.4):
        dh = d.uniform(0.18, 0.25)
        for k in range(doors):
            x0 = -hw + k * w / doors + 0.01
            fronts.append(slab(x0, x0 + w / doors - 0.02, -hd, -hd + 0.02, dz, dz + dh))
            handles.append(box((0.1, 0.02, 0.015), (x0 + w / doors / 2 - 0.01, -hd - 0.008, dz + dh / 2)))
        dz += dh + 0.01
        b.feature("a row of drawers")
    for k in range(doors):
        x0 = -hw + k * w / doors + 0.01
        fronts.append(slab(x0, x0 + w / doors - 0.02, -hd, -hd + 0.02, dz, h - 0.02))
        hx = x0 + (w / doors - 0.02) * (0.9 if k % 2 == 0 else 0.1)
        handles.append(sphere(0.018, 8, 4).at(hx, -hd - 0.012, dz + (h - dz) * 0.5))
    b.part("door", fam, *fronts, primary=True)
    b.part("handle", "metal", *handles)
    b.feature(f"{count_word(doors)} doors")
    return b


CATEGORY = Category(
    name="wardrobe",
    descriptions=("a wardrobe", "a closet for clothes", "an armoire", "a tall cupboard to hang clothes in",
                  "a clothes cabinet with doors"),
    build=build,
    options={"doors": {2: "with two doors", 3: "with three doors"}},
)
