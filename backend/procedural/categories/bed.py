"""Beds: single/double/king frames with mattress, pillows, headboard (panel or slatted), footboard."""
from ..asset import AssetBuilder
from ..builders import TUCK, count_word, four_legs, slats
from ..draw import Draw
from ..registry import Category
from ..sdf import slab


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("bed", d)
    fam = d.family(["wood", "wood", "metal"])
    size = d.choice("size", ["single", "double", "king"], weights=[2, 3, 1])
    w = {"single": 0.95, "double": 1.45, "king": 1.85}[size] * d.uniform(0.95, 1.08)
    length = d.size(1.95, 2.15)
    hw, hl = w / 2, length / 2
    frame_top = d.height(0.25, 0.4)
    rail = 0.18
    b.part("frame", fam, slab(-hw, hw, -hl, hl, frame_top - rail, frame_top), primary=True)
    b.part("leg", fam, *four_legs(hw, hl, 0.04, frame_top - rail + 0.01, 0.07, False), primary=True)
    mattress_t = d.uniform(0.18, 0.28)
    b.part("mattress", "fabric", slab(-hw + 0.03, hw - 0.03, -hl + 0.03, hl - 0.03, frame_top - 0.05,
                                      frame_top - 0.05 + mattress_t, radius=0.04))
    top = frame_top - 0.05 + mattress_t
    pillows = 1 if size == "single" else 2
    pw = (w - 0.2) / pillows
    b.part("pillow", "fabric", *[slab(-hw + 0.1 + k * pw + 0.02, -hw + 0.1 + (k + 1) * pw - 0.02, hl - 0.45, hl - 0.1,
                                      top - 0.02, top + 0.1, radius=0.04) for k in range(pillows)])
    b.paint("fabric", 0.5)
    head_h = d.height(0.9, 1.3)
    style = d.choice("headboard", ["panel", "slatted", "upholstered"])
    y = hl + 0.02
    if style == "panel":
        b.part("headboard", fam, slab(-hw - 0.02, hw + 0.02, hl - 0.02, hl + 0.04, TUCK, head_h, radius=0.01), primary=True)
    elif style == "slatted":
        n = d.integer(4, 9)
        # posts clear the floor by TUCK (the legs stand inside them); the top rail runs between them
        b.part("headboard", fam, slab(-hw - 0.04, -hw + 0.02, y - 0.03, y + 0.03, TUCK, head_h),
               slab(hw - 0.02, hw + 0.04, y - 0.03, y + 0.03, TUCK, head_h),
               slab(-hw + 0.02, hw - 0.02, y - 0.03, y + 0.03, head_h - 0.08, head_h),
               *slats(n, -hw, hw, y, top - 0.1, head_h - 0.08, 0.05, 0.03), primary=True)
    else:
        b.part("headboard", "fabric", slab(-hw - 0.03, hw + 0.03, hl - 0.02, hl + 0.1, 0.1, head_h, radius=0.05))
    b.feature(f"a {style} headboard")
    if d.chance(0.5):
        b.part("footboard", fam, slab(-hw - 0.02, hw + 0.02, -hl - 0.04, -hl + 0.02, TUCK, top - 0.05), primary=True)
        b.feature("a footboard")
    if pillows == 2:
        b.feature(f"{count_word(pillows)} pillows")
    b.noun = f"{size} bed"
    return b


CATEGORY = Category(
    name="bed",
    descriptions=("a bed", "a double bed", "a single bed", "a piece of furniture to sleep on", "a bed with a mattress and pillows",
                  "a king size bed with a headboard"),
    build=build,
    options={"size": {"single": "for one person", "double": "for two people", "king": "king size"},
             "headboard": {"panel": "with a plain wooden headboard", "slatted": "with a slatted headboard",
                           "upholstered": "with a padded headboard"}},
)
