"""Swords: a bevelled blade (straight, broad or tapering), a cross-guard, a grip and a pommel;
lies along +z from the pommel (standing on it)."""
import numpy as np

from ..asset import AssetBuilder
from ..draw import Draw
from ..registry import Category
from ..sdf import Extrusion, box, cylinder, sphere


def build(d: Draw) -> AssetBuilder:
    b = AssetBuilder("sword", d)
    fam = d.family(["metal"])
    style = d.choice("blade", ["long", "broad", "short", "rapier"])
    length = {"long": 0.9, "broad": 0.75, "short": 0.5, "rapier": 0.95}[style] * d.uniform(0.9, 1.12)
    width = {"long": 0.045, "broad": 0.075, "short": 0.05, "rapier": 0.02}[style] * d.uniform(0.85, 1.15)
    thick = width * 0.22
    grip = d.uniform(0.1, 0.2) if style != "short" else d.uniform(0.09, 0.12)
    pommel_r = d.uniform(0.018, 0.03)
    z0 = pommel_r * 1.6
    b.part("pommel", d.choice("pommel material", ["metal", "gold"]), sphere(pommel_r, 10, 5).at(0, 0, pommel_r))
    b.part("grip", d.choice("grip material", ["leather", "wood"]), cylinder(0.014, grip, 8).at(0, 0, z0))
    guard_z = z0 + grip
    guard_w = d.uniform(0.12, 0.25)
    guard = d.choice("guard", ["straight", "curved", "disc"])
    if guard == "disc":
        b.part("guard", fam, cylinder(guard_w * 0.3, 0.015, 12).at(0, 0, guard_z), primary=True)
    elif guard == "curved":
        arm = [box((guard_w / 2, 0.025, 0.02), (0, 0, 0)).rotated("y", s * 0.35).at(s * guard_w / 4, 0, guard_z + 0.02)
               for s in (-1, 1)]
        b.part("guard", fam, *arm, primary=True)
    else:
        b.part("guard", fam, box((guard_w, 0.03, 0.025), (0, 0, guard_z + 0.0125)), primary=True)
    b.feature(f"a {guard} guard")
    base = guard_z + 0.025
    taper = d.uniform(0.6, 1.0) if style != "broad" else 1.0
    tip = length * d.uniform(0.08, 0.16)
    outline = [(-width / 2, 0.0), (width / 2, 0.0), (width / 2 * taper, length - tip), (0.0, length),
               (-width / 2 * taper, length - tip)]
    blade = Extrusion(outline, thick).rotated("x", np.pi / 2).at(0, 0, base)
    b.part("blade", fam, blade, primary=True)
    b.feature(f"a {style} blade")
    return b


CATEGORY = Category(
    name="sword",
    descriptions=("a sword", "a longsword", "a medieval sword with a blade and hilt", "a knight's weapon",
                  "a sharp steel blade", "a rapier"),
    build=build,
    options={"blade": {"long": "with a long blade", "broad": "with a broad blade", "short": "with a short blade",
                       "rapier": "with a thin rapier blade"},
             "guard": {"straight": "with a straight cross-guard", "curved": "with a curved guard",
                       "disc": "with a round guard"}},
)
