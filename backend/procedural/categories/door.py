"""Doors: a slab in a frame with panels (raised, glazed or planked), hinges and a knob or lever."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import count_word
from ..draw import Draw
from ..registry import Category
from ..sdf import box, cylinder, slab, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("door", d)
    fam = d.family(["wood", "wood", "metal"])
    w = d.size(0.75, 1.0)
    h = d.height(1.95, 2.3)
    t = d.uniform(0.035, 0.05)
    hw = w / 2
    frame_w = d.uniform(0.05, 0.09)
    b.part("frame", "wood" if fam != "metal" else "metal",
           slab(-hw - frame_w, -hw, -t, t, 0, h + frame_w), slab(hw, hw + frame_w, -t, t, 0, h + frame_w),
           slab(-hw, hw, -t, t, h, h + frame_w))
    b.part("door", fam, slab(-hw + 0.003, hw - 0.003, -t / 2, t / 2, 0.01, h - 0.003), primary=True)
    style = d.choice("style", ["panelled", "glazed", "planked", "flush"])
    y = -t / 2 - 0.006
    if style == "panelled":
        rows = d.integer(2, 3)
        cols = d.choice("columns", [1, 2])
        margin = 0.1
        pw = (w - 2 * margin - (cols - 1) * 0.08) / cols
        ph = (h - 2 * margin - (rows - 1) * 0.1) / rows
        panels = [box((pw, 0.012, ph), (-hw + margin + pw / 2 + c * (pw + 0.08), y, margin + ph / 2 + r * (ph + 0.1)))
                  for r in range(rows) for c in range(cols)]
        b.part("panel", fam, *panels, primary=True)
        b.feature(f"{count_word(rows * cols)} raised panels")
    elif style == "glazed":
        gh = h * d.uniform(0.3, 0.45)
        b.part("glass", "glass", slab(-hw + 0.12, hw - 0.12, -t / 2 - 0.004, t / 2 + 0.004, h - 0.12 - gh, h - 0.12))
        b.feature("a glass window")
    elif style == "planked":
        n = d.integer(4, 7)
        xs = np.linspace(-hw, hw, n + 1)
        b.part("plank", fam, *[slab(x0, x1, -t / 2 - 0.015, -t / 2, 0.02, h - 0.02) for x0, x1 in zip(xs, xs[1:])],
               primary=True)
        b.part("brace", "metal" if d.chance(0.5) else fam,
               *[slab(-hw + 0.05, hw - 0.05, -t / 2 - 0.035, -t / 2 - 0.015, z - 0.05, z + 0.05) for z in (h * 0.2, h * 0.8)])
        b.feature(f"{count_word(n)} vertical planks")
    else:
        b.feature("a plain flush face")
    handle_x = hw - d.uniform(0.06, 0.09)
    hz = h * 0.48
    if d.choice("handle", ["knob", "lever"]) == "knob":
        b.part("handle", "metal", sphere(0.028, 10, 5).at(handle_x, -t / 2 - 0.05, hz),
               cylinder(0.01, 0.04, 8).rotated("x", np.pi / 2).at(handle_x, -t / 2 - 0.005, hz))
        b.feature("a round knob")
    else:
        b.part("handle", "metal", box((0.13, 0.02, 0.02), (handle_x - 0.05, -t / 2 - 0.05, hz)),
               cylinder(0.01, 0.045, 8).rotated("x", np.pi / 2).at(handle_x, -t / 2 - 0.005, hz))
        b.feature("a lever handle")
    b.part("hinge", "metal", *[box((0.02, t * 1.1, 0.09), (-hw - 0.002, 0, z)) for z in (0.25, h - 0.25)])
    return b


CATEGORY = Category(
    name="door",
    descriptions=("a door", "a wooden door", "an interior door in a frame", "a front door", "an entrance to a room",
                  "a door with a handle"),
    build=build,
    options={"style": {"panelled": "with raised panels", "glazed": "with a glass window", "planked": "made of planks",
                       "flush": "with a flat plain face"},
             "handle": {"knob": "with a round knob", "lever": "with a lever handle"}},
)
