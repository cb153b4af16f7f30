"""The materials library (PBR base colour, roughness, metallic) and the named colour palette.

Category builders pick materials by family name ("wood", "metal", ...); each family has a few
variants so random draws differ. A prompt colour ("red") repaints the base colour and keeps the
family's roughness and metallic. The adjective is what captions say ("wooden", "metal").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.payload import Material


@dataclass(frozen=True)
class Family:
    """A material family: the caption adjective and its variants (name, rgb, roughness, metallic)."""

    adjective: str
    variants: tuple[tuple[str, tuple[float, float, float], float, float], ...]


FAMILIES: dict[str, Family] = {
    "wood": Family("wooden", (("oak", (0.55, 0.38, 0.22), 0.7, 0.0), ("pine", (0.76, 0.6, 0.4), 0.7, 0.0),
                              ("walnut", (0.33, 0.2, 0.12), 0.6, 0.0), ("birch", (0.85, 0.74, 0.58), 0.65, 0.0))),
    "metal": Family("metal", (("steel", (0.62, 0.63, 0.65), 0.35, 1.0), ("iron", (0.28, 0.28, 0.3), 0.6, 1.0),
                              ("brass", (0.78, 0.6, 0.28), 0.3, 1.0), ("aluminium", (0.8, 0.81, 0.83), 0.3, 1.0))),
    "gold": Family("golden", (("gold", (1.0, 0.77, 0.34), 0.25, 1.0),)),
    "fabric": Family("fabric", (("linen", (0.8, 0.76, 0.68), 0.95, 0.0), ("wool", (0.45, 0.5, 0.58), 0.95, 0.0),
                                ("velvet", (0.5, 0.12, 0.15), 0.9, 0.0), ("canvas", (0.6, 0.58, 0.45), 0.95, 0.0))),
    "leather": Family("leather", (("leather", (0.36, 0.2, 0.12), 0.55, 0.0), ("black leather", (0.08, 0.07, 0.07), 0.5, 0.0))),
    "glass": Family("glass", (("clear glass", (0.85, 0.92, 0.95), 0.05, 0.0), ("green glass", (0.35, 0.6, 0.4), 0.05, 0.0),
                              ("amber glass", (0.7, 0.45, 0.15), 0.05, 0.0))),
    "stone": Family("stone", (("granite", (0.5, 0.5, 0.5), 0.85, 0.0), ("sandstone", (0.72, 0.62, 0.46), 0.9, 0.0),
                              ("slate", (0.3, 0.32, 0.35), 0.8, 0.0), ("marble", (0.9, 0.9, 0.88), 0.3, 0.0))),
    "plastic": Family("plastic", (("white plastic", (0.9, 0.9, 0.9), 0.4, 0.0), ("black plastic", (0.08, 0.08, 0.08), 0.4, 0.0),
                                  ("red plastic", (0.8, 0.15, 0.12), 0.4, 0.0), ("blue plastic", (0.15, 0.3, 0.75), 0.4, 0.0))),
    "ceramic": Family("ceramic", (("white ceramic", (0.93, 0.92, 0.9), 0.25, 0.0), ("terracotta", (0.72, 0.36, 0.22), 0.8, 0.0),
                                  ("glazed blue", (0.2, 0.35, 0.6), 0.2, 0.0))),
    "wax": Family("wax", (("wax", (0.95, 0.92, 0.82), 0.6, 0.0),)),
    "paper": Family("paper", (("paper", (0.95, 0.93, 0.86), 0.9, 0.0),)),
    "bark": Family("bark", (("bark", (0.35, 0.25, 0.17), 0.95, 0.0),)),
    "foliage": Family("leafy", (("leaves", (0.22, 0.45, 0.18), 0.85, 0.0), ("pine needles", (0.13, 0.32, 0.18), 0.85, 0.0),
                                ("autumn leaves", (0.75, 0.4, 0.12), 0.85, 0.0))),
    "soil": Family("earthen", (("soil", (0.25, 0.17, 0.1), 1.0, 0.0),)),
    "brick": Family("brick", (("brick", (0.6, 0.25, 0.18), 0.9, 0.0),)),
    "plaster": Family("plaster", (("plaster", (0.88, 0.85, 0.78), 0.9, 0.0),)),
    "flame": Family("burning", (("flame", (1.0, 0.62, 0.12), 1.0, 0.0),)),
    "rubber": Family("rubber", (("rubber", (0.1, 0.1, 0.1), 0.9, 0.0),)),
}

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.75, 0.1, 0.08), "green": (0.15, 0.55, 0.2), "blue": (0.12, 0.28, 0.75),
    "yellow": (0.92, 0.78, 0.12), "orange": (0.92, 0.45, 0.08), "purple": (0.45, 0.18, 0.6),
    "pink": (0.92, 0.5, 0.62), "white": (0.92, 0.92, 0.9), "black": (0.05, 0.05, 0.05),
    "grey": (0.5, 0.5, 0.5), "brown": (0.4, 0.25, 0.13), "teal": (0.1, 0.5, 0.5),
}


def material(family: str, variant: int = 0, color: str | None = None) -> Material:
    """The ``variant``-th material of ``family`` (wrapping), repainted in ``color`` if given."""
    if family not in FAMILIES:
        raise KeyError(f"unknown material family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    name, rgb, roughness, metallic = FAMILIES[family].variants[variant % len(FAMILIES[family].variants)]
    if color is not None:
        rgb = COLORS[color]
        name = f"{color} {family}"
    return Material(name=name, base_color=(*map(float, rgb), 1.0), roughness=roughness, metallic=metallic)


def nearest_color_name(rgb, tolerance: float = 0.15) -> str | None:
    """The palette colour within ``tolerance`` of ``rgb`` (to caption a drawn material), else None."""
    names = list(COLORS)
    d = np.linalg.norm(np.array([COLORS[n] for n in names]) - np.asarray(rgb)[:3], axis=1)
    return names[int(np.argmin(d))] if d.min() <= tolerance else None
