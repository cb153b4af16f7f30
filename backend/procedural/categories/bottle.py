"""Bottles: wine, beer, flask or jug profiles revolved, with a cork or cap."""
from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import Lathe, cylinder


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("bottle", d)
    fam = d.family(["glass", "glass", "plastic", "ceramic"])
    h = d.height(0.2, 0.33)
    r = d.size(0.03, 0.045)
    style = d.choice("shape", ["wine", "beer", "flask", "round"])
    neck = r * d.uniform(0.3, 0.45)
    if style == "wine":
        body = [(r, 0.0), (r, h * 0.6), (r * 0.8, h * 0.68), (neck, h * 0.76), (neck, h)]
    elif style == "beer":
        body = [(r, 0.0), (r, h * 0.5), (neck * 1.2, h * 0.72), (neck, h)]
    elif style == "flask":
        body = [(r * 0.8, 0.0), (r * 1.1, h * 0.15), (r * 1.1, h * 0.55), (neck, h * 0.72), (neck, h)]
    else:
        body = [(r * 0.6, 0.0), (r * 1.3, h * 0.25), (r * 1.2, h * 0.5), (neck, h * 0.72), (neck, h)]
        b.feature("a round belly")
    profile = [(0.0, 0.0)] + body + [(0.0, h)]
    b.part("body", fam, Lathe(profile, 16), primary=True)
    closure = d.choice("closure", ["cork", "cap"])
    cap_h = h * d.uniform(0.05, 0.09)
    if closure == "cork":
        b.part("cork", "wood", cylinder(neck * 0.8, cap_h, 12).at(0, 0, h - cap_h * 0.4))
        b.feature("a cork")
    else:
        b.part("cap", "metal", cylinder(neck * 1.15, cap_h, 12).at(0, 0, h - cap_h * 0.7))
        b.feature("a metal cap")
    return b


CATEGORY = Category(
    name="bottle",
    descriptions=("a bottle", "a glass bottle", "a wine bottle", "a beer bottle", "a container for drinks with a narrow neck",
                  "a flask"),
    build=build,
    options={"shape": {"wine": "for wine", "beer": "for beer", "flask": "shaped like a flask",
                       "round": "with a round belly"}},
)
