"""Trees: a tapered trunk with branches and a crown of blended blobs (broadleaf), stacked cones
(conifer) or a palm's fronds; smooth blends join crown pieces."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import BLOB_TURN, count_word
from ..draw import Draw
from ..registry import Category
from ..sdf import Box, SmoothUnion, frustum, rod, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("tree", d)
    kind = d.choice("kind", ["broadleaf", "conifer", "palm"], weights=[3, 2, 1])
    fam = d.family(["foliage"])
    h = d.height(3.0, 7.0)
    trunk_r = h * d.uniform(0.025, 0.045)
    if kind == "broadleaf":
        trunk_h = h * d.uniform(0.35, 0.55)
        branches = [rod((0, 0, trunk_h * 0.8), (np.cos(a) * h * 0.18, np.sin(a) * h * 0.18, trunk_h + h * 0.12),
                        trunk_r * 0.45, 6) for a in d.rng.uniform(0, 2 * np.pi, d.integer(2, 4))]
        b.part("trunk", "bark", SmoothUnion(frustum(trunk_r * 1.3, trunk_r * 0.8, trunk_h + h * 0.1, 10), *branches,
                                            k=trunk_r * 0.5))
        crown_r = h * d.uniform(0.22, 0.32) * d.size(0.85, 1.15)
        blobs = []
        for k in range(d.integer(3, 6)):
            a = d.uniform(0, 2 * np.pi)
            off = crown_r * d.uniform(0.2, 0.6)
            blobs.append(sphere(crown_r * d.uniform(0.55, 0.8), 12, 6).rotated("z", k * BLOB_TURN).at(np.cos(a) * off, np.sin(a) * off,
                                                                           trunk_h + crown_r * d.uniform(0.6, 1.2)))
        b.part("crown", fam, SmoothUnion(*blobs, k=crown_r * 0.3), primary=True)
        b.feature(f"a round crown of {count_word(len(blobs))} clumps")
    elif kind == "conifer":
        trunk_h = h * d.uniform(0.12, 0.22)
        b.part("trunk", "bark", frustum(trunk_r * 1.2, trunk_r * 0.7, trunk_h + h * 0.2, 8))
        tiers = d.integer(2, 5)
        width = h * d.uniform(0.18, 0.3)
        span = (h - trunk_h) / tiers
        cones = [frustum(width * (1 - 0.55 * k / tiers), width * 0.05, span * 1.8, 12).at(0, 0, trunk_h + k * span * 0.8)
                 for k in range(tiers)]
        b.part("crown", fam, SmoothUnion(*cones, k=width * 0.05), primary=True)
        b.feature(f"{count_word(tiers)} tiers of needles")
    else:
        lean = d.uniform(-0.3, 0.3)
        top = np.array([h * lean * 0.4, 0.0, h * 0.8])
        b.part("trunk", "bark", SmoothUnion(rod((0, 0, 0), (top[0] * 0.5, 0, top[2] * 0.5), trunk_r, 8),
                                            rod((top[0] * 0.5, 0, top[2] * 0.5), top, trunk_r * 0.75, 8), k=trunk_r))
        fronds = []
        n = d.integer(5, 9)
        for k in range(n):
            a = 2 * np.pi * k / n
            length = h * d.uniform(0.25, 0.35)
            leaf = Box((length, length * 0.22, 0.03), radius=0.01).at(length / 2, 0, 0).rotated("y", d.uniform(0.15, 0.5))
            fronds.append(leaf.rotated("z", a).at(*top))
        b.part("crown", fam, *fronds, sphere(trunk_r * 1.3, 8, 4).at(*top), primary=True)
        b.feature(f"{count_word(n)} palm fronds")
        b.noun = "palm tree"
    return b


CATEGORY = Category(
    name="tree",
    descriptions=("a tree", "an oak tree", "a pine tree", "a palm tree", "a tall plant with a trunk and leaves",
                  "a fir tree", "a leafy deciduous tree"),
    build=build,
    options={"kind": {"broadleaf": "with broad leaves and a round crown", "conifer": "that is an evergreen conifer",
                      "palm": "that is a tropical palm"}},
)
