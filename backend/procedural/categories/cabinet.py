"""Cabinets and sideboards: a carcass with doors and/or drawers, handles, legs or a plinth."""
from ..asset import AssetBuilder
from ..builders import TUCK, count_word, four_legs
from ..draw import Draw
from ..registry import Category
from ..sdf import box, slab, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("cabinet", d)
    fam = d.family(["wood", "wood", "metal", "plastic"])
    w = d.size(0.5, 1.6)
    h = d.height(0.6, 1.1)
    depth = d.uniform(0.35, 0.55)
    hw, hd = w / 2, depth / 2
    legs = d.uniform(0.08, 0.2) if d.choice("base", ["legs", "plinth"]) == "legs" else 0.0
    b.part("body", fam, slab(-hw, hw, -hd + 0.02, hd, max(legs, 0.0), h, radius=0.004), primary=True)
    if legs:
        b.part("leg", d.choice("leg material", [fam, "metal"]), *four_legs(hw, hd, 0.04 + TUCK, legs + 0.01, 0.04, d.chance(0.5)))
        b.feature("legs")
    fronts, handles = [], []
    layout = d.choice("front", ["doors", "drawers", "doors and drawers"])
    columns = max(1, int(round(w / d.uniform(0.4, 0.6))))
    cw = w / columns
    z0 = max(legs, 0.0) + 0.02
    z_top = h - 0.02
    handle = d.choice("handles", ["knob", "bar"])

    def add_handle(x, z):
        if handle == "knob":
            handles.append(sphere(0.016, 8, 4).at(x, -hd - 0.01, z))
        else:
            handles.append(box((0.012, 0.02, 0.1), (x, -hd - 0.005, z)))

    if layout != "doors":
        rows = 1 if layout == "doors and drawers" else d.integer(2, 4)
        dh = (z_top - z0) * (0.25 if layout == "doors and drawers" else 1 / rows)
        for r in range(rows):
            for c in range(columns):
                x0 = -hw + c * cw + 0.01
                zz = z_top - (r + 1) * dh
                fronts.append(slab(x0, x0 + cw - 0.02, -hd, -hd + 0.02, zz + 0.005, zz + dh - 0.005))
                add_handle(x0 + cw / 2 - 0.01, zz + dh / 2)
        z_top -= rows * dh
        b.feature(f"{count_word(rows * columns)} drawers")
    if layout != "drawers":
        for c in range(columns):
            x0 = -hw + c * cw + 0.01
            fronts.append(slab(x0, x0 + cw - 0.02, -hd, -hd + 0.02, z0, z_top - 0.005))
            add_handle(x0 + (cw - 0.02) * (0.85 if c % 2 == 0 else 0.15), z0 + (z_top - z0) * 0.75)
        b.feature(f"{count_word(columns)} doors")
    b.part("front", fam, *fronts, primary=True)
    b.part("handle", "metal", *handles)
    b.feature(f"{handle} handles")
    return b


CATEGORY = Category(
    name="cabinet",
    descriptions=("a cabinet", "a sideboard", "a chest of drawers", "a cupboard with doors", "a dresser",
                  "a storage cabinet"),
    build=build,
    options={"front": {"doors": "with doors", "drawers": "with drawers", "doors and drawers": "with doors and drawers"},
             "handles": {"knob": "with round knobs", "bar": "with bar handles"}},
)
