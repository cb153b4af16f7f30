"""Desks: a top on legs or on drawer pedestals, optional modesty panel and drawers with knobs."""
from ..asset import AssetBuilder
from ..builders import four_legs
from ..draw import Draw
from ..registry import Category
from ..sdf import slab, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("desk", d)
    fam = d.family(["wood", "wood", "metal"])
    w = d.size(1.0, 1.6)
    depth = d.uniform(0.55, 0.8)
    h = d.height(0.72, 0.78)
    t = d.uniform(0.025, 0.04)
    hw, hd = w / 2, depth / 2
    b.part("top", fam, slab(-hw, hw, -hd, hd, h - t, h, radius=0.005), primary=True)
    base = d.choice("base", ["legs", "pedestal", "two pedestals"], weights=[2, 2, 1])
    knobs = []
    drawer_parts = []
    if base == "legs":
        b.part("leg", d.choice("leg material", [fam, "metal"]), *four_legs(hw, hd, 0.04, h - t, 0.05, d.chance(0.3)),
               primary=True)
        b.feature("four legs")
        if d.chance(0.5):
            b.part("panel", fam, slab(-hw + 0.065, hw - 0.065, hd - 0.04, hd - 0.02, h * 0.35, h - t), primary=True)
            b.feature("a modesty panel")
    else:
        ped_w = d.uniform(0.35, 0.45)
        sides = [-1, 1] if base == "two pedestals" else [d.choice("pedestal side", [-1, 1])]
        drawers = d.integer(2, 4)
        for s in sides:
            x0, x1 = sorted((s * hw, s * (hw - ped_w)))
            b.part("pedestal", fam, slab(x0, x1, -hd + 0.02, hd, 0, h - t), primary=True)
            dh = (h - t - 0.06) / drawers
            for k in range(drawers):
                z0 = 0.04 + k * dh
                drawer_parts.append(slab(x0 + 0.02, x1 - 0.02, -hd, -hd + 0.02, z0 + 0.01, z0 + dh - 0.01))
                knobs.append(sphere(0.015, 8, 4).at((x0 + x1) / 2, -hd - 0.01, z0 + dh / 2))
        other = -sides[0] if len(sides) == 1 else None
        if other is not None:
            b.part("leg", fam, *[slab(other * hw - 0.03 - 0.02 * other, other * hw + 0.03 - 0.02 * other, y - 0.03, y + 0.03, 0, h - t)
                                 for y in (-hd + 0.05, hd - 0.05)], primary=True)
        b.part("drawer", fam, *drawer_parts, primary=True)
        b.part("knob", "metal", *knobs)
        b.feature(f"{len(drawer_parts)} drawers")
    return b


CATEGORY = Category(
    name="desk",
    descriptions=("a desk", "a writing desk", "an office desk with drawers", "a computer desk", "a study table to work at",
                  "a wooden desk"),
    build=build,
    options={"base": {"legs": "on four legs", "pedestal": "with a drawer pedestal",
                      "two pedestals": "with drawers on both sides"}},
)
