"""Seeded parameter draws for category builders, steerable by hints from a prompt.

A builder asks ``draw.size(lo, hi)`` / ``draw.height(lo, hi)`` / ``draw.choice(name, options)`` /
``draw.family(options)`` instead of calling the RNG directly. Without hints these are plain
seeded draws; with hints ("tall", "small", material "metal", option back="slatted") the draws
move to the matching end of the range or take the requested value. What was drawn is recorded,
so captions can describe it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .materials import COLORS, FAMILIES

SIZE_WORDS = ("small", "large")
HEIGHT_WORDS = ("short", "tall")


@dataclass
class Hints:
    """What a prompt asked for; every field optional."""

    size: str | None = None          # "small" | "large"
    height: str | None = None        # "short" | "tall"
    material: str | None = None      # a family of materials.FAMILIES
    color: str | None = None         # a name of materials.COLORS
    options: dict[str, str] = field(default_factory=dict)   # category style option -> value

    def __post_init__(self):
        if self.size not in (None, *SIZE_WORDS):
            raise ValueError(f"size hint must be one of {SIZE_WORDS}, got {self.size!r}")
        if self.height not in (None, *HEIGHT_WORDS):
            raise ValueError(f"height hint must be one of {HEIGHT_WORDS}, got {self.height!r}")
        if self.material not in (None, *FAMILIES):
            raise ValueError(f"unknown material {self.material!r}")
        if self.color not in (None, *COLORS):
            raise ValueError(f"unknown colour {self.color!r}")


def _biased(rng: np.random.Generator, lo: float, hi: float, word: str | None, words: tuple[str, str]) -> float:
    """A uniform draw in [lo, hi]; a hint word restricts it to the matching fifth of the range
    extended outward by 25% (so 'tall' is taller than anything drawn without the hint)."""
    span = hi - lo
    if word == words[0]:
        return float(rng.uniform(lo - 0.25 * span, lo + 0.2 * span))
    if word == words[1]:
        return float(rng.uniform(hi - 0.2 * span, hi + 0.25 * span))
    return float(rng.uniform(lo, hi))


class Draw:
    """The seeded random source of one asset."""

    def __init__(self, seed: int | np.random.Generator, hints: Hints | None = None):
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.hints = hints or Hints()
        self.size_fractions: list[float] = []
        self.height_fractions: list[float] = []
        self.options: dict[str, str] = {}

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi] inclusive."""
        return int(self.rng.integers(lo, hi + 1))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def size(self, lo: float, hi: float) -> float:
        """An overall dimension (width, depth, radius); steered by 'small'/'large'."""
        value = _biased(self.rng, lo, hi, self.hints.size, SIZE_WORDS)
        self.size_fractions.append((value - lo) / (hi - lo))
        return value

    def height(self, lo: float, hi: float) -> float:
        """A height; steered by 'short'/'tall'."""
        value = _biased(self.rng, lo, hi, self.hints.height, HEIGHT_WORDS)
        self.height_fractions.append((value - lo) / (hi - lo))
        return value

    def choice(self, name: str, options, weights=None):
        """One of ``options`` (a style variant); a hinted value for ``name`` wins if it is an option."""
        options = list(options)
        wanted = self.hints.options.get(name)
        if wanted in options:
            value = wanted
        else:
            p = None if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)
            value = options[int(self.rng.choice(len(options), p=p))]
        self.options[name] = value
        return value

    def family(self, options) -> str:
        """The main material family: the hinted one if any (even outside ``options``), else drawn."""
        options = list(options)
        pick = options[int(self.rng.integers(len(options)))]
        return self.hints.material or pick

    def size_word(self) -> str | None:
        """'small'/'large' when hinted or when the draws sat at one end of their ranges."""
        return self.hints.size or _word(self.size_fractions, SIZE_WORDS)

    def height_word(self) -> str | None:
        return self.hints.height or _word(self.height_fractions, HEIGHT_WORDS)


def _word(fractions: list[float], words: tuple[str, str]) -> str | None:
    if not fractions:
        return None
    mean = float(np.mean(fractions))
    return words[0] if mean < 0.2 else words[1] if mean > 0.8 else None
