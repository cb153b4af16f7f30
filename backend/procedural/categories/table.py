"""Tables: square/rectangular/round tops on four legs, a pedestal or trestles; optional apron."""
from ..asset import AssetBuilder
from ..builders import TUCK, four_legs
from ..draw import Draw
from ..registry import Category
from ..sdf import Lathe, box, cylinder, slab


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("table", d)
    fam = d.family(["wood", "wood", "metal", "stone"])
    height = d.height(0.68, 0.78)
    t = d.uniform(0.025, 0.06)
    shape = d.choice("top", ["rectangular", "square", "round"], weights=[3, 2, 2])
    if shape == "round":
        radius = d.size(0.4, 0.65)
        hw = hd = radius * 0.7
        b.part("top", fam, cylinder(radius, t, 24, bevel=t * 0.3).at(0, 0, height - t), primary=True)
        b.feature("a round top")
    else:
        w = d.size(0.7, 1.0)
        depth = w if shape == "square" else w * d.uniform(1.3, 2.0)
        hw, hd = w / 2, depth / 2
        b.part("top", fam, box((2 * hw, 2 * hd, t), (0, 0, height - t / 2), radius=min(t * 0.3, 0.01)), primary=True)
        b.feature(f"a {shape} top")
    base = d.choice("base", ["legs", "pedestal", "trestle"], weights=[4, 2, 1] if shape == "round" else [5, 1, 2])
    leg_fam = d.choice("leg material", [fam, "metal"], weights=[3, 1])
    under = height - t
    if base == "legs":
        leg_t = d.uniform(0.04, 0.08)
        inset = leg_t / 2 + d.uniform(0.02, 0.08)
        b.part("leg", leg_fam, *four_legs(hw, hd, inset, under, leg_t, d.chance(0.4)), primary=leg_fam == fam)
        b.feature("four legs")
        if shape != "round" and d.chance(0.6):
            a = d.uniform(0.06, 0.1)
            x, y = hw - inset, hd - inset
            # the apron runs TUCK up into the top (the legs' tops stay below its top face); the side
            # boards fit between the front and back boards (no shared faces at the corners)
            z0, z1 = under - a, under + TUCK
            b.part("apron", fam, slab(-x, x, -y, -y + 0.02, z0, z1), slab(-x, x, y - 0.02, y, z0, z1),
                   slab(-x, -x + 0.02, -y + 0.02, y - 0.02, z0, z1), slab(x - 0.02, x, -y + 0.02, y - 0.02, z0, z1),
                   primary=True)
            b.feature("an apron under the top")
    elif base == "pedestal":
        r = d.uniform(0.05, 0.09)
        foot = min(hw, hd) * d.uniform(0.6, 0.9)
        b.part("pedestal", leg_fam, Lathe([(0, 0), (foot, 0), (foot * 0.9, 0.04), (r * 1.3, 0.1), (r, 0.25),
                                          (r, under - 0.05), (r * 1.6, under), (0, under)], 16), primary=leg_fam == fam)
        b.feature("a single pedestal")
    else:
        leg_t = d.uniform(0.05, 0.08)
        y = hd * 0.75
        feet = [box((2 * hw * 0.8, leg_t, leg_t), (0, s * y, leg_t / 2)) for s in (-1, 1)]
        posts = [box((leg_t, leg_t, under - leg_t), (0, s * y, leg_t + (under - leg_t) / 2)) for s in (-1, 1)]
        b.part("trestle", leg_fam, *(feet + posts), box((leg_t * 0.6, 2 * y, leg_t), (0, 0, under * 0.35)),
               primary=leg_fam == fam)
        b.feature("trestle legs")
    return b


CATEGORY = Category(
    name="table",
    descriptions=("a table", "a dining table", "a kitchen table", "a flat surface on legs to eat at",
                  "a coffee table", "a round table", "a wooden table"),
    build=build,
    options={"top": {"round": "with a round top", "square": "with a square top",
                     "rectangular": "with a long rectangular top"},
             "base": {"legs": "with four legs", "pedestal": "on a single pedestal", "trestle": "with trestle legs"}},
)
