"""Lamps: table or floor lamps; a weighted base, a pole (straight or with a bulb-shaped body) and a
revolved shade (drum, cone or dome)."""
from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import Lathe, cylinder, shell, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("lamp", d)
    kind = d.choice("kind", ["table", "floor"], weights=[3, 2])
    fam = d.family(["metal", "ceramic", "wood"])
    h = d.height(0.35, 0.6) if kind == "table" else d.height(1.4, 1.8)
    base_r = d.size(0.07, 0.12) if kind == "table" else d.size(0.14, 0.2)
    base_h = d.uniform(0.02, 0.04)
    b.part("base", fam, cylinder(base_r, base_h, 20, bevel=base_h * 0.4), primary=True)
    shade_h = h * (d.uniform(0.3, 0.4) if kind == "table" else d.uniform(0.15, 0.22))
    pole_top = h - shade_h * 0.6
    if kind == "table" and d.chance(0.5):
        body_r = base_r * d.uniform(0.5, 0.8)
        b.part("body", fam, Lathe([(0, base_h), (body_r * 0.5, base_h), (body_r, base_h + (pole_top - base_h) * 0.35),
                                   (body_r * 0.3, base_h + (pole_top - base_h) * 0.8), (0.012, pole_top), (0, pole_top)],
                                  16), primary=True)
        b.feature("a bulbous body")
    else:
        b.part("pole", "metal", cylinder(d.uniform(0.008, 0.015), pole_top - base_h, 8).at(0, 0, base_h))
    b.part("bulb", "glass", sphere(0.03, 8, 4).at(0, 0, pole_top))
    style = d.choice("shade", ["drum", "cone", "dome"])
    r_bottom = shade_h * d.uniform(0.6, 0.9) if kind == "table" else shade_h * d.uniform(0.8, 1.1)
    z0 = h - shade_h
    if style == "drum":
        outer = [(r_bottom, z0), (r_bottom, h)]
    elif style == "cone":
        outer = [(r_bottom, z0), (r_bottom * 0.5, h)]
    else:
        outer = [(r_bottom, z0), (r_bottom * 0.85, z0 + shade_h * 0.5), (r_bottom * 0.5, z0 + shade_h * 0.85),
                 (r_bottom * 0.2, h)]
    shade_fam = d.choice("shade material", ["fabric", "paper", "glass", fam], weights=[4, 2, 1, 1])
    b.paint(shade_fam, 0.4)
    b.part("shade", shade_fam, shell(outer, 0.006, 20))
    b.feature(f"a {style} shade")
    return b


CATEGORY = Category(
    name="lamp",
    descriptions=("a lamp", "a table lamp", "a floor lamp", "a desk lamp with a shade", "a light with a lampshade",
                  "a reading lamp"),
    build=build,
    options={"kind": {"table": "that stands on a table", "floor": "that stands on the floor"},
             "shade": {"drum": "with a drum shade", "cone": "with a cone shade", "dome": "with a dome shade"}},
)
