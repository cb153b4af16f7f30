"""Armchairs: upholstered box or wooden-frame lounge chairs; cushion, arms, legs or a plinth."""
from ..asset import AssetBuilder
from ..builders import TUCK, four_legs
from ..draw import Draw
from ..registry import Category
from ..sdf import box, slab


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("armchair", d)
    style = d.choice("style", ["upholstered", "frame"], weights=[3, 2])
    w = d.size(0.7, 0.95)
    depth = d.uniform(0.7, 0.9)
    seat_h = d.height(0.38, 0.46)
    back_h = d.height(0.35, 0.55)
    arm_w = d.uniform(0.08, 0.18)
    hw, hd = w / 2, depth / 2
    fabric = d.family(["fabric", "fabric", "leather"])
    if fabric in ("fabric",):
        b.paint(fabric, 0.6)
    cushion_t = d.uniform(0.1, 0.16)
    if style == "upholstered":
        base_top = seat_h - cushion_t
        legs_h = d.uniform(0.06, 0.15) if d.chance(0.7) else 0.0
        # the body sits TUCK inside the arms' and back's outer faces (no shared planes)
        b.part("body", fabric, slab(-hw + TUCK, hw - TUCK, -hd + TUCK, hd - TUCK, max(legs_h, 0.0) + TUCK, base_top,
                                    radius=0.03), primary=True)
        b.part("arm", fabric, slab(-hw, -hw + arm_w, -hd, hd, legs_h, seat_h + d.uniform(0.12, 0.25), radius=0.04),
               slab(hw - arm_w, hw, -hd, hd, legs_h, seat_h + 0.18, radius=0.04), primary=True)
        b.part("back", fabric, slab(-hw + arm_w, hw - arm_w, hd - d.uniform(0.14, 0.22), hd, legs_h,
                                    seat_h + back_h, radius=0.05), primary=True)
        if legs_h > 0:
            b.part("leg", "wood", *four_legs(hw, hd, 0.06, legs_h, 0.045, d.chance(0.5)))
            b.feature("short wooden legs")
        else:
            b.feature("a plinth base")
    else:
        wood = "wood"
        leg_t = d.uniform(0.04, 0.06)
        base_top = seat_h - cushion_t
        # legs stop inside the seat frame, whose sides sit just inside the legs' faces
        b.part("frame", wood, *four_legs(hw, hd, leg_t / 2, base_top - TUCK, leg_t, False),
               slab(-hw + TUCK, hw - TUCK, -hd + TUCK, hd - TUCK, base_top - 0.05, base_top), primary=False)
        arm_h = seat_h + d.uniform(0.15, 0.25)
        b.part("arm", wood, *[slab(x - leg_t / 2, x + leg_t / 2, -hd, hd, arm_h - 0.04, arm_h) for x in (-hw + leg_t / 2, hw - leg_t / 2)],
               *[slab(x - leg_t / 2, x + leg_t / 2, -hd + 0.02, -hd + 0.02 + leg_t, base_top, arm_h - 0.04)
                 for x in (-hw + leg_t / 2, hw - leg_t / 2)])
        b.part("back", fabric, box((w - 2 * leg_t - 0.04, 0.1, back_h), (0, hd - 0.08, base_top + back_h / 2 + 0.05)),
               primary=True)
        b.feature("a wooden frame")
    seat_w = hw - arm_w if style == "upholstered" else hw - 0.05
    b.part("cushion", fabric, slab(-seat_w + 0.01, seat_w - 0.01, -hd + 0.02, hd - 0.2, base_top, seat_h, radius=0.03),
           primary=True)
    b.feature("a seat cushion")
    b.feature("two arms")
    return b


CATEGORY = Category(
    name="armchair",
    descriptions=("an armchair", "an upholstered armchair", "a comfy chair with arms", "a lounge chair",
                  "a padded easy chair with armrests", "a club chair"),
    build=build,
    options={"style": {"upholstered": "fully upholstered", "frame": "with an open wooden frame"}},
)
