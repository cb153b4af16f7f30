"""Dining/kitchen chairs: four legs, square or round seat, slatted, ladder, spindle or solid back."""
from ..asset import AssetBuilder
from ..builders import count_word, four_legs, rails, slats
from ..draw import Draw
from ..registry import Category
from ..sdf import box, cylinder, rod


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("chair", d)
    fam = d.family(["wood", "wood", "metal", "plastic"])
    w = d.size(0.40, 0.52)
    depth = w * d.uniform(0.9, 1.1)
    seat_h = d.height(0.42, 0.50)
    t = d.uniform(0.03, 0.05)
    legs_round = d.choice("legs", ["square", "round"]) == "round"
    leg_t = d.uniform(0.03, 0.045)
    hw, hd = w / 2, depth / 2
    if d.choice("seat", ["square", "round"], weights=[3, 1]) == "round":
        b.part("seat", fam, cylinder(hw, t, 16).at(0, 0, seat_h - t), primary=True)
        b.feature("a round seat")
    else:
        b.part("seat", fam, box((w, depth, t), (0, 0, seat_h - t / 2), radius=0.006), primary=True)
    inset = leg_t / 2 + d.uniform(0.005, 0.03)
    splay = d.uniform(0.0, 0.03) if d.chance(0.3) else 0.0
    b.part("leg", fam, *four_legs(hw * 0.92, hd * 0.92, inset, seat_h - t, leg_t, legs_round, splay), primary=True)
    b.feature("four legs")
    if d.chance(0.4):
        z = d.uniform(0.12, 0.2)
        x = hw * 0.92 - inset
        b.part("stretcher", fam, rod((-x, -hd * 0.92 + inset, z), (-x, hd * 0.92 - inset, z), leg_t * 0.3),
               rod((x, -hd * 0.92 + inset, z), (x, hd * 0.92 - inset, z), leg_t * 0.3), primary=True)
        b.feature("stretchers between the legs")
    back_h = d.height(0.35, 0.55)
    top = seat_h + back_h
    y = hd - inset
    post_x = hw * 0.92 - inset
    rail_h = d.uniform(0.04, 0.08)
    # The posts stop under the top rail: running them up inside it would give the artist mesh
    # faces lying exactly on the rail's (top, sides), which Cycles renders black.
    post_h = top - rail_h - seat_h
    b.part("back", fam, box((leg_t, leg_t, post_h), (-post_x, y, seat_h + post_h / 2)),
           box((leg_t, leg_t, post_h), (post_x, y, seat_h + post_h / 2)), primary=True)
    b.part("back", fam, box((2 * post_x + leg_t, leg_t, rail_h), (0, y, top - rail_h / 2)))
    style = d.choice("back", ["slatted", "ladder", "spindle", "solid"])
    if style == "slatted":
        n = d.integer(2, 5)
        gap = 2 * post_x / (n + 1)  # slats clear the posts and each other (no shared faces)
        width = min(d.uniform(0.03, 0.06), 0.8 * gap, 1.6 * (gap - leg_t / 2))
        b.part("back", fam, *slats(n, -post_x, post_x, y, seat_h, top - rail_h, width, leg_t * 0.6))
        b.feature(f"a slatted back with {count_word(n)} slats")
    elif style == "ladder":
        n = d.integer(2, 4)
        b.part("back", fam, *rails(n, -post_x, post_x, y, seat_h, top - rail_h, d.uniform(0.03, 0.05), leg_t * 0.6))
        b.feature("a ladder back")
    elif style == "spindle":
        n = d.integer(4, 8)
        xs = [(-post_x + (i + 1) * 2 * post_x / (n + 1)) for i in range(n)]
        b.part("back", fam, *[rod((x, y, seat_h), (x, y, top - rail_h), 0.008, 6) for x in xs])
        b.feature("a spindle back")
    else:
        # between the posts, not into them (their tops and the panel's would share a plane)
        b.part("back", fam, box((2 * post_x - leg_t, leg_t * 0.7, top - seat_h - rail_h),
                                (0, y, (seat_h + top - rail_h) / 2)))
        b.feature("a solid back")
    return b


CATEGORY = Category(
    name="chair",
    descriptions=("a chair", "a seat for one person with a backrest and four legs", "a dining chair",
                  "a kitchen chair", "a wooden chair to sit on at a table", "a side chair"),
    build=build,
    options={"back": {"slatted": "with a slatted back", "ladder": "with a ladder back",
                      "spindle": "with a spindle back", "solid": "with a solid back"},
             "seat": {"round": "with a round seat", "square": "with a square seat"}},
)
