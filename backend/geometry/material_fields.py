"""Procedural PBR material fields: f(points, normals) -> base colour, roughness, metallic, height.

Solid noise patterns (wood rings and grain, stone, marble veins, brushed metal, woven fabric,
bricks...) evaluated at surface points, so they need no UV-aware logic and bake seamlessly.
``points`` are in a part's own frame, in object-normalised units (bbox diagonal 1): local X is
the part's long axis, so wood grain and brushing run along it. ``height`` (0..1) is the small
relief a normal map is made from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .noise import fbm, gradient_noise

Field = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class MaterialKind:
    """One procedural material: a name, words that name it in a prompt, a description for text
    matching, its field maker, and how its worn edges look (``bare``: wear exposes a brighter,
    smoother under-layer, as on metal or varnished wood)."""

    name: str
    words: tuple[str, ...]
    description: str
    make: Callable[[np.ndarray | None, int], Field]
    bare: float = 0.5


def _lerp(a, b, t):
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)[:, None]
    return np.asarray(a, dtype=np.float64) * (1 - t) + np.asarray(b, dtype=np.float64) * t


def _tinted(rgb: np.ndarray, tint: np.ndarray | None, amount: float = 0.8) -> np.ndarray:
    """Recolour keeping the pattern's light/dark variation."""
    if tint is None:
        return rgb
    luminance = rgb @ np.array([0.2126, 0.7152, 0.0722])
    shade = luminance / max(float(luminance.mean()), 1e-6)
    return np.clip(rgb * (1 - amount) + np.asarray(tint)[None, :] * shade[:, None] * amount, 0, 1)


def _result(rgb, roughness, metallic, height) -> dict[str, np.ndarray]:
    n = len(rgb)
    return {"base_color": np.clip(rgb, 0, 1),
            "roughness": np.clip(np.broadcast_to(roughness, (n,)), 0, 1)[:, None],
            "metallic": np.clip(np.broadcast_to(metallic, (n,)), 0, 1)[:, None],
            "height": np.clip(np.broadcast_to(height, (n,)), 0, 1)[:, None]}


def _triplanar_pattern(points: np.ndarray, normals: np.ndarray, pattern: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Blend a 2D pattern projected along X, Y and Z by how much the surface faces each axis."""
    w = np.abs(normals) ** 4
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return (w[:, 0] * pattern(points[:, [1, 2]]) + w[:, 1] * pattern(points[:, [0, 2]])
            + w[:, 2] * pattern(points[:, [0, 1]]))


def wood(tint, seed) -> Field:
    def field(p, n):
        warp = fbm(p * np.array([1.0, 3.0, 3.0]), 2, seed)
        # growth rings are cylinders around the long (X) axis; fibres are streaks along it
        rings = np.sin(2 * np.pi * (np.hypot(p[:, 1], p[:, 2] + 0.3) * 22.0 + 1.5 * warp)) * 0.5 + 0.5
        grain = gradient_noise(p * np.array([3.0, 90.0, 90.0]), seed + 7) * 0.5 + 0.5
        rgb = _lerp([0.66, 0.45, 0.26], [0.38, 0.22, 0.11], rings ** 2 * 0.7 + grain * 0.3)
        return _result(_tinted(rgb, tint, 0.5), 0.55 + 0.15 * rings, 0.0, 0.6 * grain + 0.4 * (1 - rings))
    return field


def stone(tint, seed) -> Field:
    def field(p, n):
        base = fbm(p * 6.0, 4, seed) * 0.5 + 0.5
        speck = (gradient_noise(p * 90.0, seed + 3) > 0.55).astype(float)
        rgb = _lerp([0.32, 0.31, 0.30], [0.62, 0.60, 0.57], base)
        rgb = _lerp(rgb, [0.15, 0.15, 0.15], speck * 0.6)
        return _result(_tinted(rgb, tint, 0.5), 0.8 + 0.15 * base, 0.0, base * 0.8 + 0.2 * (1 - speck))
    return field


def marble(tint, seed) -> Field:
    def field(p, n):
        veins = np.abs(np.sin((p[:, 0] + p[:, 2]) * 12.0 + fbm(p * 4.0, 4, seed) * 6.0)) ** 0.25
        rgb = _lerp([0.35, 0.35, 0.38], [0.94, 0.93, 0.91], veins)
        return _result(_tinted(rgb, tint, 0.4), 0.15 + 0.1 * (1 - veins), 0.0, 0.5 + 0.1 * veins)
    return field


def metal(tint, seed) -> Field:
    def field(p, n):
        # brushing: fine lines along the part's long axis
        brushed = gradient_noise(p * np.array([6.0, 500.0, 500.0]), seed) * 0.5 + 0.5
        smudge = fbm(p * 5.0, 3, seed + 5) * 0.5 + 0.5
        rgb = _lerp([0.55, 0.56, 0.58], [0.78, 0.79, 0.80], brushed * 0.6 + smudge * 0.4)
        return _result(_tinted(rgb, tint, 0.6), 0.25 + 0.2 * smudge, 1.0, brushed)
    return field


def gold(tint, seed) -> Field:
    def field(p, n):
        smudge = fbm(p * 6.0, 3, seed) * 0.5 + 0.5
        rgb = _lerp([1.0, 0.71, 0.29], [0.83, 0.61, 0.22], smudge)
        return _result(_tinted(rgb, tint, 0.3), 0.15 + 0.15 * smudge, 1.0, 0.5 + 0.2 * smudge)
    return field


def rust(tint, seed) -> Field:
    def field(p, n):
        amount = np.clip(fbm(p * 5.0, 4, seed) * 1.5 + 0.5, 0, 1)
        flakes = gradient_noise(p * 60.0, seed + 1) * 0.5 + 0.5
        rgb = _lerp([0.55, 0.55, 0.57], [0.45, 0.20, 0.08], amount)
        return _result(_tinted(rgb, tint, 0.3), 0.35 + 0.6 * amount, 1.0 - amount, amount * (0.5 + 0.5 * flakes))
    return field


def fabric(tint, seed) -> Field:
    def weave(uv):
        return (np.sin(uv[:, 0] * 400.0) * np.sin(uv[:, 1] * 400.0)) * 0.5 + 0.5

    def field(p, n):
        threads = _triplanar_pattern(p, n, weave)
        blotch = fbm(p * 4.0, 2, seed) * 0.5 + 0.5
        rgb = _lerp([0.30, 0.36, 0.52], [0.42, 0.48, 0.64], threads * 0.7 + blotch * 0.3)
        return _result(_tinted(rgb, tint, 0.9), 0.9 + 0.08 * threads, 0.0, threads)
    return field


def leather(tint, seed) -> Field:
    def field(p, n):
        pores = np.abs(gradient_noise(p * 80.0, seed)) ** 0.5
        wear = fbm(p * 4.0, 3, seed + 2) * 0.5 + 0.5
        rgb = _lerp([0.22, 0.12, 0.07], [0.45, 0.28, 0.16], wear * 0.7 + pores * 0.3)
        return _result(_tinted(rgb, tint, 0.8), 0.55 + 0.25 * pores, 0.0, 1 - pores)
    return field


def plastic(tint, seed) -> Field:
    color = np.array([0.75, 0.75, 0.75]) if tint is None else np.asarray(tint)

    def field(p, n):
        variation = gradient_noise(p * 3.0, seed) * 0.04
        return _result(np.clip(color[None, :] * (1 + variation[:, None]), 0, 1), 0.35 + variation, 0.0, 0.5)
    return field


def ceramic(tint, seed) -> Field:
    color = np.array([0.92, 0.91, 0.87]) if tint is None else np.asarray(tint)

    def field(p, n):
        glaze = fbm(p * 8.0, 2, seed) * 0.5 + 0.5
        return _result(np.clip(color[None, :] * (0.93 + 0.07 * glaze[:, None]), 0, 1), 0.08 + 0.06 * glaze, 0.0,
                       0.5 + 0.05 * glaze)
    return field


def rubber(tint, seed) -> Field:
    def field(p, n):
        grit = gradient_noise(p * 120.0, seed) * 0.03
        rgb = np.array([0.08, 0.08, 0.085])[None, :] + grit[:, None]
        return _result(_tinted(rgb, tint, 0.8), 0.9, 0.0, 0.5 + 4 * grit)
    return field


def brick(tint, seed) -> Field:
    def bricks(uv):
        rows = uv[:, 1] * 16.0
        offset = (np.floor(rows) % 2) * 0.5
        cols = uv[:, 0] * 8.0 + offset
        mortar = (np.minimum(rows % 1, 1 - rows % 1) < 0.06) | (np.minimum(cols % 1, 1 - cols % 1) < 0.03)
        return mortar.astype(float)

    def field(p, n):
        mortar = _triplanar_pattern(p, n, bricks)
        mottle = fbm(p * 10.0, 2, seed) * 0.5 + 0.5
        rgb = _lerp(_lerp([0.50, 0.20, 0.13], [0.66, 0.32, 0.22], mottle), [0.72, 0.70, 0.66], mortar)
        return _result(_tinted(rgb, tint, 0.5), 0.85 + 0.1 * mortar, 0.0, 1 - mortar)
    return field


def concrete(tint, seed) -> Field:
    def field(p, n):
        base = fbm(p * 8.0, 3, seed) * 0.5 + 0.5
        pits = (gradient_noise(p * 150.0, seed + 9) > 0.6).astype(float)
        rgb = _lerp([0.50, 0.50, 0.49], [0.66, 0.66, 0.64], base)
        rgb = _lerp(rgb, [0.30, 0.30, 0.30], pits * 0.7)
        return _result(_tinted(rgb, tint, 0.4), 0.9, 0.0, 0.6 - 0.5 * pits + 0.2 * base)
    return field


def glass(tint, seed) -> Field:
    color = np.array([0.80, 0.88, 0.90]) if tint is None else np.asarray(tint)

    def field(p, n):
        ripple = gradient_noise(p * 10.0, seed) * 0.02
        return _result(np.clip(color[None, :] * (1 + ripple[:, None]), 0, 1), 0.05, 0.0, 0.5 + ripple)
    return field


MATERIALS: tuple[MaterialKind, ...] = (
    MaterialKind("wood", ("wood", "wooden", "oak", "pine", "walnut", "timber", "plank", "planks", "birch",
                          "mahogany", "cherry", "teak", "maple", "ash", "beech", "ebony"),
                 "wood, wooden, oak, pine, walnut, timber, planks, tree bark, furniture", wood, 0.4),
    MaterialKind("stone", ("stone", "rock", "granite", "sandstone", "slate", "pebble", "cobblestone"),
                 "stone, rock, granite, boulder, pebble, rough grey stone", stone, 0.2),
    MaterialKind("marble", ("marble",), "marble, polished marble statue, white veined stone, countertop", marble, 0.1),
    MaterialKind("metal", ("metal", "metallic", "steel", "iron", "aluminium", "aluminum", "chrome", "silver", "tin",
                           "pewter", "nickel"),
                 "metal, steel, iron, aluminium, chrome, brushed metal, robot, machine", metal, 0.8),
    MaterialKind("gold", ("gold", "golden", "brass", "bronze", "copper", "gilded"),
                 "gold, golden, brass, bronze, jewellery, treasure, crown, coin", gold, 0.8),
    MaterialKind("rust", ("rust", "rusty", "rusted", "corroded"),
                 "rust, rusty, corroded, old weathered iron, scrap", rust, 0.6),
    MaterialKind("fabric", ("fabric", "cloth", "cotton", "wool", "woolen", "textile", "linen", "velvet", "canvas",
                            "upholstered", "denim", "silk"),
                 "fabric, cloth, cotton, wool, textile, sofa, cushion, pillow, clothes", fabric, 0.1),
    MaterialKind("leather", ("leather", "hide", "suede"), "leather, hide, saddle, boots, wallet, jacket, bag", leather, 0.3),
    MaterialKind("plastic", ("plastic", "vinyl", "acrylic", "painted", "lacquered"),
                 "plastic, toy, smooth plastic, injection moulded, casing, lego", plastic, 0.2),
    MaterialKind("ceramic", ("ceramic", "porcelain", "pottery", "clay", "terracotta", "glazed", "tile", "tiles"),
                 "ceramic, porcelain, pottery, clay, glazed mug, vase, plate, tiles", ceramic, 0.1),
    MaterialKind("rubber", ("rubber", "tyre", "tire"), "rubber, tyre, tire, black rubber, eraser, sole", rubber, 0.1),
    MaterialKind("brick", ("brick", "bricks", "masonry"), "brick, brick wall, masonry, house, chimney", brick, 0.2),
    MaterialKind("concrete", ("concrete", "cement"), "concrete, cement, pavement, bunker, brutalist", concrete, 0.2),
    MaterialKind("glass", ("glass", "crystal"), "glass, clear glass, bottle, window, crystal", glass, 0.0),
)

COLOR_WORDS = {
    "red": (0.70, 0.08, 0.06), "green": (0.12, 0.50, 0.15), "blue": (0.10, 0.25, 0.70),
    "yellow": (0.90, 0.78, 0.10), "orange": (0.90, 0.42, 0.08), "purple": (0.42, 0.15, 0.55),
    "pink": (0.92, 0.52, 0.65), "white": (0.92, 0.92, 0.90), "black": (0.05, 0.05, 0.05),
    "grey": (0.45, 0.45, 0.45), "gray": (0.45, 0.45, 0.45), "brown": (0.40, 0.24, 0.12),
    "teal": (0.05, 0.45, 0.45), "cyan": (0.10, 0.65, 0.75), "beige": (0.80, 0.72, 0.56),
}


def material_by_name(name: str) -> MaterialKind:
    for kind in MATERIALS:
        if kind.name == name:
            return kind
    raise KeyError(name)


def material_in_words(words: list[str]) -> tuple[MaterialKind | None, str | None]:
    """The material a list of lower-case words names (rust beats the metal it corrodes), and the word."""
    found = [(kind, word) for word in words for kind in MATERIALS if word in kind.words]
    if not found:
        return None, None
    rusty = [f for f in found if f[0].name == "rust"]
    return rusty[0] if rusty else found[0]


def color_in_words(words: list[str]) -> tuple[str | None, np.ndarray | None]:
    """The first colour word in a list of lower-case words and its RGB, if any."""
    for word in words:
        if word in COLOR_WORDS:
            return word, np.array(COLOR_WORDS[word])
    return None, None

