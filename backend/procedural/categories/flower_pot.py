"""Flower pots: tapered or straight planters with a rim, soil, optional saucer and a simple plant."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import BLOB_TURN
from ..draw import Draw
from ..registry import Category
from ..sdf import SmoothUnion, cylinder, frustum, revolve_wall, rod, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("flower_pot", d)
    fam = d.family(["ceramic", "ceramic", "plastic", "stone"])
    h = d.height(0.12, 0.35)
    r = d.size(0.07, 0.18)
    style = d.choice("shape", ["tapered", "straight", "rimmed"])
    if style == "tapered":
        outer = [(r * 0.7, 0.0), (r, h)]
    elif style == "straight":
        outer = [(r * 0.95, 0.0), (r, h)]
    else:
        outer = [(r * 0.7, 0.0), (r * 0.92, h * 0.8), (r * 1.05, h * 0.8), (r * 1.05, h)]
        b.feature("a thick rim")
    wall = max(0.005, r * 0.06)
    b.part("pot", fam, revolve_wall(outer, wall, wall * 1.5, 20), primary=True)
    soil_z = h * d.uniform(0.75, 0.9)
    soil_r = float(np.interp(soil_z, [p[1] for p in outer], [p[0] for p in outer])) - wall * 0.9
    b.part("soil", "soil", cylinder(soil_r, soil_z - wall * 1.5 - 0.001, 20).at(0, 0, wall * 1.5 + 0.001))
    if d.chance(0.4):
        b.part("saucer", fam, revolve_wall([(r * 0.8, -0.015), (r * 1.05, 0.005)], 0.005, 0.006, 20), primary=True)
        b.feature("a saucer")
    plant = d.choice("plant", ["none", "bush", "cactus", "sapling"], weights=[1, 2, 1, 1])
    if plant == "bush":
        blobs = [sphere(r * d.uniform(0.45, 0.7), 10, 5).rotated("z", k * BLOB_TURN).at(d.uniform(-r, r) * 0.4, d.uniform(-r, r) * 0.4,
                                                             soil_z + r * d.uniform(0.3, 0.7)) for k in range(d.integer(2, 4))]
        b.part("plant", "foliage", SmoothUnion(*blobs, k=r * 0.2))
        b.feature("a leafy plant")
    elif plant == "cactus":
        ch = h * d.uniform(0.8, 1.6)
        cr = r * 0.3
        arms = [rod((0, 0, soil_z + ch * 0.4), (s * cr * 2.2, 0, soil_z + ch * 0.55), cr * 0.5, 8) for s in (-1, 1)
                if d.chance(0.7)]
        b.part("plant", "foliage", SmoothUnion(frustum(cr, cr * 0.8, ch, 10).at(0, 0, soil_z - 0.01),
                                               sphere(cr * 0.8, 10, 5).at(0, 0, soil_z + ch - 0.01), *arms, k=cr * 0.3))
        b.feature("a cactus")
    elif plant == "sapling":
        th = h * d.uniform(1.0, 2.0)
        b.part("stem", "bark", cylinder(0.008, th, 6).at(0, 0, soil_z - 0.01))
        b.part("plant", "foliage", sphere(r * d.uniform(0.6, 0.9), 10, 5).at(0, 0, soil_z + th))
        b.feature("a small tree")
    return b


CATEGORY = Category(
    name="flower_pot",
    descriptions=("a flower pot", "a plant pot", "a planter", "a terracotta pot with a plant", "a potted plant",
                  "a container for growing flowers"),
    build=build,
    options={"shape": {"tapered": "that tapers toward the base", "straight": "with straight sides",
                       "rimmed": "with a thick rim"},
             "plant": {"none": "with only soil", "bush": "with a leafy plant", "cactus": "with a cactus",
                       "sapling": "with a small tree"}},
)
