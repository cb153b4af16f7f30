"""Bowls: shallow to deep hollow hemispheres or cones on a foot ring."""
import numpy as np

from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import revolve_wall


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("bowl", d)
    fam = d.family(["ceramic", "ceramic", "wood", "metal", "glass", "stone"])
    b.paint(fam, 0.4)
    r = d.size(0.06, 0.16)
    depth = d.choice("depth", ["shallow", "deep"])
    h = r * (d.uniform(0.3, 0.45) if depth == "shallow" else d.uniform(0.55, 0.8))
    style = d.choice("profile", ["round", "conical"])
    t = np.linspace(0, 1, 6)
    foot = r * d.uniform(0.35, 0.55)
    if style == "round":
        radii = foot + (r - foot) * np.sin(t * np.pi / 2)
    else:
        radii = foot + (r - foot) * t
    outer = list(zip(radii, t * h))
    wall = max(0.004, r * d.uniform(0.04, 0.07))
    b.part("bowl", fam, revolve_wall(outer, wall, wall * 1.2, 24), primary=True)
    b.feature(f"a {depth} {style} shape")
    return b


CATEGORY = Category(
    name="bowl",
    descriptions=("a bowl", "a soup bowl", "a salad bowl", "a round dish for food", "a cereal bowl", "a wooden bowl"),
    build=build,
    options={"depth": {"shallow": "that is shallow", "deep": "that is deep"},
             "profile": {"round": "with a rounded profile", "conical": "with a conical profile"}},
)
