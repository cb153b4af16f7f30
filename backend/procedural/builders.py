"""Building blocks shared by category modules: legs, rails, rows of slats, frames."""
from __future__ import annotations

import numpy as np

from .sdf import Shape, box, rod, slab


# How far a piece that meets another is inset from (or sunk past) the other's faces: pieces that
# share a plane, facing the same way, over each other z-fight and render black in Cycles.
TUCK = 0.004
# Blob k of an overlapping cluster of spheres turns k * BLOB_TURN radians about z (no multiple of a
# sphere's segment angle), so no two blobs' facets can lie on one plane; a sphere's SDF is unchanged.
BLOB_TURN = 0.37


def leg(x: float, y: float, top: float, thickness: float, round_: bool, splay: float = 0.0) -> Shape:
    """One leg from the floor up to ``top`` under (x, y); ``splay`` moves the foot outward (m).
    Splayed legs are always turned (round): a tilted square leg would need a mitred foot."""
    if round_ or splay:
        foot = np.array([x, y]) + splay * np.sign([x, y])
        return rod((foot[0], foot[1], 0.0), (x, y, top), thickness / 2, segments=8)
    return slab(x - thickness / 2, x + thickness / 2, y - thickness / 2, y + thickness / 2, 0.0, top)


def four_legs(half_w: float, half_d: float, inset: float, top: float, thickness: float, round_: bool,
              splay: float = 0.0) -> list[Shape]:
    """Four legs at the corners of a (2 half_w) x (2 half_d) rectangle, ``inset`` from its edges."""
    xs = (-half_w + inset, half_w - inset)
    ys = (-half_d + inset, half_d - inset)
    return [leg(x, y, top, thickness, round_, splay) for x in xs for y in ys]


def slats(count: int, x0: float, x1: float, y: float, z0: float, z1: float, width: float,
          thickness: float) -> list[Shape]:
    """``count`` vertical slats spread evenly between x0 and x1 at depth y, from z0 to z1."""
    xs = np.linspace(x0, x1, count + 2)[1:-1]
    return [box((width, thickness, z1 - z0), (x, y, (z0 + z1) / 2)) for x in xs]


def rails(count: int, x0: float, x1: float, y: float, z0: float, z1: float, height: float,
          thickness: float) -> list[Shape]:
    """``count`` horizontal rails between z0 and z1 at depth y, spanning x0..x1."""
    zs = np.linspace(z0, z1, count + 2)[1:-1]
    return [box((x1 - x0, thickness, height), ((x0 + x1) / 2, y, z)) for z in zs]


def count_word(n: int) -> str:
    """'four' for 4 (captions)."""
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    return words[n] if 0 <= n < len(words) else str(n)
