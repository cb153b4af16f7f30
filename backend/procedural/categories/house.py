"""Houses: a block with a gable or hip roof, door, windows with frames, chimney, optional porch
and second floor."""
import numpy as np

from ..asset import AssetBuilder
from ..builders import TUCK, count_word
from ..draw import Draw
from ..registry import Category
from ..sdf import Extrusion, Placed, box, slab


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("house", d)
    wall = d.family(["brick", "plaster", "wood", "stone"])
    b.paint("plaster", 0.5)
    w = d.size(5.0, 10.0)
    depth = w * d.uniform(0.6, 0.9)
    floors = d.choice("floors", [1, 2], weights=[3, 2])
    storey = d.uniform(2.6, 3.1)
    h = storey * floors
    hw, hd = w / 2, depth / 2
    b.part("walls", wall, slab(-hw, hw, -hd, hd, 0, h), primary=True)
    roof_h = hd * d.uniform(0.6, 1.1) * d.height(0.8, 1.2)
    over = d.uniform(0.2, 0.5)
    roof_kind = d.choice("roof", ["gable", "flat"], weights=[5, 1])
    roof_fam = d.choice("roof material", ["brick", "wood", "stone"])
    if roof_kind == "gable":
        outline = [(-hd - over, h - 0.1), (hd + over, h - 0.1), (0, h + roof_h)]
        b.part("roof", roof_fam, _prism_x(outline, w + 2 * over))
        b.feature("a gable roof")
    else:
        b.part("roof", roof_fam, slab(-hw - over, hw + over, -hd - over, hd + over, h, h + 0.25))
        b.feature("a flat roof")
    if d.chance(0.7) and roof_kind == "gable":
        cx = d.uniform(-hw * 0.6, hw * 0.6)
        b.part("chimney", "brick", slab(cx - 0.3, cx + 0.3, hd * 0.2, hd * 0.2 + 0.6, h, h + roof_h * 0.9 + 0.6))
        b.feature("a chimney")
    door_x = d.uniform(-hw * 0.4, hw * 0.4)
    b.part("door", "wood", slab(door_x - 0.5, door_x + 0.5, -hd - 0.08, -hd + 0.02, TUCK, 2.1))  # not on the walls' floor plane
    windows, frames = [], []
    per_floor = max(2, int(w / d.uniform(2.0, 3.0)))
    for f in range(floors):
        for x in np.linspace(-hw + 1.0, hw - 1.0, per_floor):
            if f == 0 and abs(x - door_x) < 1.2:
                continue
            z = f * storey + 1.0
            windows.append(slab(x - 0.5, x + 0.5, -hd - 0.05, -hd + 0.02, z, z + 1.2))
            frames.append(slab(x - 0.6, x + 0.6, -hd - 0.1, -hd + 0.02, z - 0.12, z - 0.02))
    b.part("window", "glass", *windows)
    b.part("sill", "wood", *frames)
    b.feature(f"{count_word(len(windows))} windows at the front")
    if d.chance(0.4):
        b.part("porch", "wood", slab(door_x - 1.2, door_x + 1.2, -hd - 1.5, -hd, 0, 0.2),
               slab(door_x - 1.3, door_x + 1.3, -hd - 1.6, -hd, 2.5, 2.65),
               *[box((0.15, 0.15, 2.3), (door_x + s * 1.15, -hd - 1.45, 1.35)) for s in (-1, 1)])
        b.feature("a porch")
    b.noun = "two-storey house" if floors == 2 else "house"
    return b


def _prism_x(outline, length: float) -> Placed:
    """A prism along x: the (y, z) ``outline`` extruded over ``length``, centred at x = 0.

    Extrusion runs along z over (x, y); the cyclic permutation (x, y, z) -> (z, x, y) is a rotation.
    """
    perm = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=np.float64)
    return Placed(Extrusion(np.asarray(outline, dtype=np.float64), length), perm, np.zeros(3))


CATEGORY = Category(
    name="house",
    descriptions=("a house", "a small cottage", "a home with a roof, door and windows", "a two storey house",
                  "a cabin", "a building where a family lives"),
    build=build,
    options={"roof": {"gable": "with a pitched gable roof", "flat": "with a flat roof"},
             "floors": {1: "with one floor", 2: "with two floors"}},
)
