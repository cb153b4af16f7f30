"""Captions of varying detail for an asset, from what its builder recorded."""
from __future__ import annotations

import numpy as np

from .asset import Asset
from .materials import FAMILIES


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _join(features: list[str]) -> str:
    if len(features) <= 1:
        return "".join(features)
    return ", ".join(features[:-1]) + " and " + features[-1]


def captions(asset: Asset, seed: int = 0) -> list[str]:
    """From terse to detailed: 'a chair', 'a wooden chair', 'a red wooden chair', 'a tall wooden
    chair with four legs and a slatted back', ... (unique, deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    noun = asset.noun
    adjective = FAMILIES[asset.primary_family].adjective
    size = [w for w in (asset.size_word, asset.height_word) if w]
    features = list(asset.features)
    some = [features[i] for i in sorted(rng.choice(len(features), min(2, len(features)), replace=False))] \
        if features else []
    out = [_article(noun), _article(f"{adjective} {noun}")]
    if asset.color_word:
        out.append(_article(f"{asset.color_word} {adjective} {noun}"))
    detailed = " ".join(size + [adjective, noun])
    out.append(_article(detailed) + (" with " + _join(some) if some else ""))
    if features:
        out.append(_article(" ".join(size + ([asset.color_word] if asset.color_word else []) + [noun]))
                   + " with " + _join(features) + f", made of {asset.primary_family}")
    return list(dict.fromkeys(out))
