"""Prompt -> category + attribute hints, by MiniLM sentence-embedding similarity (no keyword rules).

The category is the one whose descriptions (written in each category module) lie nearest the
prompt; a prompt far from everything still gets the nearest, with a low confidence. Attributes
(material, colour, size, height, the category's style options) are decided by contrast: the prompt
is compared with "a <noun>" and with "a <attribute> <noun>" / "a <noun> <option phrase>"; an
attribute is taken when it moves the prompt's embedding closer by more than a margin.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backend.models.text_encoder import sentence_embeddings

from .draw import HEIGHT_WORDS, SIZE_WORDS, Hints
from .materials import COLORS, FAMILIES
from .registry import categories

PROMPT_MATERIALS = ("wood", "metal", "gold", "fabric", "leather", "glass", "stone", "plastic", "ceramic", "brick")
TEMPERATURE = 0.05   # softmax temperature over cosine similarities -> confidence
MARGIN = 0.04        # how much closer an attribute phrase must be than the bare noun


@dataclass
class Match:
    """The outcome of matching one prompt."""

    category: str
    confidence: float                # softmax probability of the chosen category
    similarity: float                # cosine similarity to its nearest description
    hints: Hints
    alternatives: list[tuple[str, float]] = field(default_factory=list)   # next best (name, probability)

    def attributes(self) -> dict:
        """The matched attributes as JSON (only those the prompt asked for)."""
        out = {k: v for k, v in (("material", self.hints.material), ("color", self.hints.color),
                                 ("size", self.hints.size), ("height", self.hints.height)) if v}
        out.update({k: v for k, v in self.hints.options.items()})
        return out


def _noun(name: str) -> str:
    return name.replace("_", " ")


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


class PromptMatcher:
    """Embeds every category description and attribute phrase once (at construction, ~1k short
    sentences); ``match(prompt)`` then costs one prompt embedding and a few dot products."""

    def __init__(self, device: str | None = "cpu"):
        self.device = device
        self.categories = categories()
        self.names = list(self.categories)
        texts, owner = [], []
        for i, name in enumerate(self.names):
            for text in self.categories[name].descriptions:
                texts.append(text)
                owner.append(i)
        self._owner = np.array(owner)
        self._descriptions = sentence_embeddings(texts, device=device)
        self._groups: dict[str, list] = {}
        for name in self.names:
            self._attribute_groups(name)

    def _attribute_groups(self, name: str) -> list:
        """[(group, baseline embedding, [(value, embedding)])] for category ``name``, cached."""
        if name in self._groups:
            return self._groups[name]
        noun = _noun(name)
        groups = {
            "material": [(f, [_article(f"{FAMILIES[f].adjective} {noun}"), f"{_article(noun)} made of {f}"])
                         for f in PROMPT_MATERIALS],
            "color": [(c, [_article(f"{c} {noun}")]) for c in COLORS],
            "size": [(w, [_article(f"{w} {noun}")]) for w in SIZE_WORDS],
            "height": [(w, [_article(f"{w} {noun}")]) for w in HEIGHT_WORDS],
        }
        for option, values in self.categories[name].options.items():
            groups[f"option:{option}"] = [(v, [f"{_article(noun)} {phrase}"]) for v, phrase in values.items()]
        texts = [_article(noun)] + [t for values in groups.values() for _, ts in values for t in ts]
        emb = sentence_embeddings(texts, device=self.device)
        baseline, k = emb[0], 1
        built = []
        for group, values in groups.items():
            entries = []
            for value, ts in values:
                entries.append((value, emb[k:k + len(ts)]))
                k += len(ts)
            built.append((group, entries))
        self._groups[name] = [(g, baseline, entries) for g, entries in built]
        return self._groups[name]

    def match(self, prompt: str) -> Match:
        """Match a non-empty prompt to a category and attribute hints."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("the prompt is empty; describe the object, e.g. 'a wooden chair'")
        e = sentence_embeddings([prompt.strip()], device=self.device)[0]
        sims = self._descriptions @ e
        per_category = np.full(len(self.names), -1.0)
        np.maximum.at(per_category, self._owner, sims)
        probs = np.exp((per_category - per_category.max()) / TEMPERATURE)
        probs /= probs.sum()
        order = np.argsort(-per_category)
        best = self.names[order[0]]
        hints = Hints()
        for group, baseline, entries in self._attribute_groups(best):
            base = float(baseline @ e)
            scores = [float((emb @ e).max()) - base for _, emb in entries]
            k = int(np.argmax(scores))
            if scores[k] <= MARGIN:
                continue
            value = entries[k][0]
            if group == "material":
                hints.material = value
            elif group == "color":
                hints.color = value
            elif group == "size":
                hints.size = value
            elif group == "height":
                hints.height = value
            else:
                hints.options[group.split(":", 1)[1]] = value
        return Match(best, float(probs[order[0]]), float(per_category[order[0]]), hints,
                     [(self.names[i], float(probs[i])) for i in order[1:4]])
