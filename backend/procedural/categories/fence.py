"""Fence sections: picket, rail or iron-bar fences between posts; pointed, flat or round tops."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import count_word
from ..draw import Draw
from ..registry import Category
from ..sdf import Extrusion, cylinder, frustum, slab, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("fence", d)
    style = d.choice("style", ["picket", "rail", "iron"])
    fam = d.family(["wood"] if style != "iron" else ["metal"])
    length = d.size(1.2, 2.0)
    h = d.height(0.8, 1.6)
    hl = length / 2
    post = d.uniform(0.08, 0.12) if style != "iron" else 0.06
    posts = 2 if length < 2.2 else 3
    xs = np.linspace(-hl, hl, posts)
    b.part("post", fam, *[slab(x - post / 2, x + post / 2, -post / 2, post / 2, 0, h + 0.05) for x in xs], primary=True)
    b.feature(f"{count_word(posts)} posts")
    if style == "picket":
        rails = [slab(-hl, hl, post / 2, post / 2 + 0.025, z - 0.04, z + 0.04) for z in (h * 0.25, h * 0.75)]
        b.part("rail", fam, *rails, primary=True)
        pw = d.uniform(0.07, 0.11)
        gap = d.uniform(0.03, 0.08)
        top = d.choice("top", ["pointed", "flat"])
        pickets = []
        for x in np.arange(-hl + post, hl - post - pw / 2, pw + gap):
            if top == "pointed":
                outline = [(x, 0.05), (x + pw, 0.05), (x + pw, h - pw * 0.6), (x + pw / 2, h), (x, h - pw * 0.6)]
                pickets.append(Extrusion(outline, 0.02).rotated("x", np.pi / 2).at(0, post / 2 + 0.035, 0))
            else:
                pickets.append(slab(x, x + pw, post / 2 + 0.025, post / 2 + 0.045, 0.05, h - 0.02))
        b.part("picket", fam, *pickets, primary=True)
        b.feature(f"{len(pickets)} {top} pickets")
    elif style == "rail":
        n = d.integer(2, 4)
        b.part("rail", fam, *[slab(-hl, hl, -0.02, 0.02, z - 0.06, z + 0.06)
                              for z in np.linspace(h * 0.25, h * 0.9, n)], primary=True)
        b.feature(f"{count_word(n)} horizontal rails")
    else:
        b.part("rail", fam, slab(-hl, hl, -0.015, 0.015, 0.12, 0.16), slab(-hl, hl, -0.015, 0.015, h - 0.12, h - 0.08),
               primary=True)
        spacing = d.uniform(0.18, 0.26)
        finial = d.choice("top", ["spear", "ball"])
        bars, tops = [], []
        for x in np.arange(-hl + post, hl - post / 2, spacing):
            bars.append(cylinder(0.025, h - 0.05, 8).at(x, 0, 0.02))
            tops.append(frustum(0.04, 0.0, 0.1, 8).at(x, 0, h - 0.04) if finial == "spear" else sphere(0.04, 8, 4).at(x, 0, h - 0.02))
        b.part("bar", fam, *bars, primary=True)
        b.part("finial", fam, *tops, primary=True)
        b.feature(f"iron bars with {finial} tops")
    return b


CATEGORY = Category(
    name="fence",
    descriptions=("a fence", "a picket fence", "a wooden fence section", "an iron railing", "a garden fence between posts",
                  "a barrier around a yard"),
    build=build,
    options={"style": {"picket": "made of pickets", "rail": "with horizontal rails", "iron": "of wrought iron bars"},
             "top": {"pointed": "with pointed tops", "flat": "with flat tops", "spear": "with spear tips",
                     "ball": "with ball tops"}},
)
