"""The category registry: every module in ``backend/procedural/categories/`` defines ``CATEGORY``.

Adding a category means adding one file there; nothing else changes. ``generate(name, seed)``
builds one asset deterministically.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from .asset import Asset, AssetBuilder
from .draw import Draw, Hints


@dataclass(frozen=True)
class Category:
    """One object category.

    ``descriptions``: phrases a person might use for it (the prompt matcher embeds them).
    ``build(draw) -> AssetBuilder``: the parametric generator. ``options``: style variants a prompt
    can ask for, ``{option: {value: phrase}}``, where ``phrase`` completes "a <noun> ...".
    """

    name: str
    descriptions: tuple[str, ...]
    build: Callable[[Draw], AssetBuilder]
    options: dict[str, dict[str, str]] = field(default_factory=dict)


@lru_cache(maxsize=1)
def categories() -> dict[str, Category]:
    """All registered categories by name, sorted."""
    from . import categories as package
    found: dict[str, Category] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        category = getattr(module, "CATEGORY", None)
        if not isinstance(category, Category):
            raise TypeError(f"{module.__name__} must define CATEGORY = Category(...)")
        if category.name in found:
            raise ValueError(f"category {category.name!r} defined twice")
        found[category.name] = category
    return dict(sorted(found.items()))


def generate(name: str, seed: int, hints: Hints | None = None) -> Asset:
    """Build one asset of category ``name`` from ``seed`` (same inputs, same asset)."""
    known = categories()
    if name not in known:
        raise KeyError(f"unknown category {name!r}; known: {', '.join(known)}")
    builder = known[name].build(Draw(seed, hints))
    if builder.category != name:
        raise ValueError(f"category module {name!r} built a {builder.category!r}")
    return builder.finish()
