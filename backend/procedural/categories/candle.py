"""Candles: pillar, taper in a holder, or tea light; wax body, wick and flame, optional dish."""
from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import Lathe, cylinder, frustum, revolve_wall


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("candle", d)
    style = d.choice("style", ["pillar", "taper", "tealight"], weights=[3, 3, 1])
    fam = d.family(["wax"])
    b.paint(fam, 0.4)
    base = 0.0
    if style == "taper":
        holder = d.choice("holder material", ["metal", "ceramic", "wood"])
        hr = d.size(0.04, 0.07)
        stem = d.height(0.04, 0.15)
        b.part("holder", holder, Lathe([(0, 0), (hr, 0), (hr, 0.008), (0.012, 0.02), (0.01, stem), (0.02, stem),
                                        (0.02, stem + 0.025), (0, stem + 0.025)], 16))
        base = stem + 0.01
        r = d.uniform(0.009, 0.013)
        h = d.height(0.15, 0.3)
        b.part("wax", fam, Lathe([(0, base), (r, base), (r, base + h), (r * 0.6, base + h + 0.008), (0, base + h + 0.008)], 12),
               primary=True)
        top = base + h + 0.008
        b.feature("a candle holder")
    elif style == "pillar":
        r = d.size(0.03, 0.06)
        h = d.height(0.06, 0.2)
        if d.chance(0.5):
            b.part("dish", d.choice("dish material", ["metal", "ceramic"]),
                   revolve_wall([(r * 1.4, 0.0), (r * 1.8, 0.015)], 0.004, 0.005, 20))
            base = 0.005
            b.feature("a dish")
        b.part("wax", fam, cylinder(r, h, 16, bevel=0.003).at(0, 0, base), primary=True)
        top = base + h
    else:
        r = 0.019
        b.part("cup", "metal", revolve_wall([(r, 0.0), (r, 0.016)], 0.0015, 0.0015, 16))
        b.part("wax", fam, cylinder(r - 0.0016, 0.013, 16).at(0, 0, 0.0015), primary=True)
        top = 0.0145
        b.noun = "tea light"
    b.part("wick", "rubber", cylinder(0.0025, 0.01, 6).at(0, 0, top - 0.004))
    if d.chance(0.75):
        b.part("flame", "flame", frustum(0.007, 0.0, 0.025, 8).at(0, 0, top + 0.004))
        b.feature("a lit flame")
    return b


CATEGORY = Category(
    name="candle",
    descriptions=("a candle", "a wax candle", "a candlestick", "a pillar candle", "a burning candle with a flame",
                  "a taper candle in a holder"),
    build=build,
    options={"style": {"pillar": "shaped like a thick pillar", "taper": "tall and thin in a holder",
                       "tealight": "small tea light"}},
)
