"""Benches: park benches with slatted seat and back, plain plank benches, or stone slabs."""
from ..asset import AssetBuilder
from ..builders import TUCK, count_word
from ..draw import Draw
from ..registry import Category
from ..sdf import box, slab


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("bench", d)
    style = d.choice("style", ["park", "plank", "stone"], weights=[3, 3, 1])
    length = d.size(1.1, 1.9)
    seat_h = d.height(0.42, 0.48)
    hl = length / 2
    if style == "stone":
        fam = d.family(["stone"])
        depth = d.uniform(0.35, 0.5)
        t = d.uniform(0.08, 0.14)
        b.part("seat", fam, slab(-hl, hl, -depth / 2, depth / 2, seat_h - t, seat_h, radius=0.01), primary=True)
        n = 2 if length < 1.5 else 3
        xs = [(-hl * 0.75 + k * 1.5 * hl / (n - 1)) for k in range(n)]
        b.part("support", fam, *[box((0.2, depth * 0.8, seat_h - t), (x, 0, (seat_h - t) / 2)) for x in xs], primary=True)
        b.feature(f"{count_word(n)} stone blocks")
        return b
    fam = d.family(["wood"])
    depth = d.uniform(0.35, 0.5) if style == "plank" else d.uniform(0.4, 0.5)
    slats = d.integer(3, 5)
    gap = 0.012
    slat_w = (depth - gap * (slats - 1)) / slats
    t = 0.03
    seat = [slab(-hl, hl, -depth / 2 + k * (slat_w + gap), -depth / 2 + k * (slat_w + gap) + slat_w, seat_h - t, seat_h)
            for k in range(slats)]
    b.part("seat", fam, *seat, primary=True)
    b.feature(f"a seat of {count_word(slats)} slats")
    frame = d.choice("frame", ["metal", "wood"]) if style == "park" else "wood"
    legs = []
    for x in (-hl * 0.85, hl * 0.85):
        legs.append(slab(x - 0.03, x + 0.03, -depth / 2, -depth / 2 + 0.06, 0, seat_h - t))
        legs.append(slab(x - 0.03, x + 0.03, depth / 2 - 0.06, depth / 2, 0, seat_h - t))
        legs.append(slab(x - 0.03, x + 0.03, -depth / 2 + 0.06, depth / 2 - 0.06, seat_h - t - 0.06, seat_h - t))
    b.part("leg", frame, *legs, primary=frame == fam)
    if style == "park":
        back_h = d.height(0.3, 0.45)
        rows = d.integer(2, 3)
        y = depth / 2 + 0.02
        b.part("back", fam, *[slab(-hl, hl, y, y + t, seat_h + 0.06 + k * back_h / rows,
                                   seat_h + 0.06 + k * back_h / rows + back_h / rows * 0.7) for k in range(rows)],
               primary=True)
        b.part("leg", frame, *[slab(x - 0.03, x + 0.03, y + t, y + t + 0.04, seat_h - t - 0.06, seat_h + back_h + 0.06)
                               for x in (-hl * 0.85, hl * 0.85)])
        b.feature("a slatted backrest")
        if d.chance(0.5):
            b.part("arm", frame, *[slab(x - 0.03, x + 0.03, -depth / 2, depth / 2 + 0.05 - TUCK, seat_h + 0.18, seat_h + 0.21)
                                   for x in (-hl * 0.85, hl * 0.85)],
                   *[slab(x - 0.02, x + 0.02, -depth / 2 + 0.02, -depth / 2 + 0.06, seat_h, seat_h + 0.18)
                     for x in (-hl * 0.85, hl * 0.85)])
            b.feature("armrests")
    return b


CATEGORY = Category(
    name="bench",
    descriptions=("a bench", "a park bench", "a long seat for several people", "a wooden bench", "a garden bench",
                  "a stone bench"),
    build=build,
    options={"style": {"park": "for a park, with a backrest", "plank": "made of plain planks without a back",
                       "stone": "carved from stone blocks"}},
)
