"""Stools: round or square seat on three or four legs, bar or low height, optional foot ring."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import count_word
from ..draw import Draw
from ..registry import Category
from ..sdf import Torus, box, cylinder, rod


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("stool", d)
    fam = d.family(["wood", "metal", "plastic"])
    kind = d.choice("height", ["low", "bar"], weights=[3, 2])
    seat_h = d.height(0.4, 0.5) if kind == "low" else d.height(0.65, 0.8)
    t = d.uniform(0.025, 0.05)
    r = d.size(0.14, 0.22)
    round_seat = d.choice("seat", ["round", "square"], weights=[3, 1]) == "round"
    if round_seat:
        b.part("seat", fam, cylinder(r, t, 16, bevel=t * 0.25).at(0, 0, seat_h - t), primary=True)
    else:
        b.part("seat", fam, box((2 * r * 0.9, 2 * r * 0.9, t), (0, 0, seat_h - t / 2), radius=0.005), primary=True)
        b.feature("a square seat")
    n = d.choice("legs", [3, 4], weights=[2, 3])
    leg_r = d.uniform(0.012, 0.022)
    spread = d.uniform(1.0, 1.35)
    angles = np.arange(n) * 2 * np.pi / n + (np.pi / 4 if n == 4 else np.pi / 2)
    top_r = r * 0.65
    legs = [rod((np.cos(a) * top_r * spread, np.sin(a) * top_r * spread, 0.0),
                (np.cos(a) * top_r, np.sin(a) * top_r, seat_h - t), leg_r) for a in angles]
    leg_fam = d.choice("leg material", [fam, "metal"], weights=[2, 1])
    b.part("leg", leg_fam, *legs, primary=leg_fam == fam)
    b.feature(f"{count_word(n)} legs")
    if kind == "bar" or d.chance(0.3):
        z = seat_h * d.uniform(0.25, 0.4)
        ring_r = top_r * (spread - (spread - 1) * z / (seat_h - t))
        b.part("foot ring", leg_fam, Torus(ring_r, leg_r * 0.7, segments=16, sides=6).at(0, 0, z))
        b.feature("a foot ring")
    return b


CATEGORY = Category(
    name="stool",
    descriptions=("a stool", "a bar stool", "a backless seat on legs", "a small seat with no back or arms",
                  "a kitchen stool", "a three-legged stool"),
    build=build,
    options={"height": {"bar": "tall enough for a bar counter", "low": "low to the ground"},
             "seat": {"round": "with a round seat", "square": "with a square seat"}},
)
