"""Prompt -> category + attribute hints, by MiniLM sentence-embedding similarity (no keyword rules).

The category is the one whose phrases (the descriptions written in each category module, and the
attribute phrases below: "a red stool", "a tall lamp"; not the style options' phrases, such as "a
chair with a ladder back", which name other things: a ladder) lie nearest the prompt or its
head clause (the text before the first comma or full stop: long prompts name the object first).
A prompt far from everything still gets the nearest category, with a low confidence.

``confidence`` is calibrated, not a softmax share: the probability that the prompt asks for that
category, a logistic function of the best similarity, its lead over the runner-up and its lead
over the nearest counter-example (a prompt for an object the engine has no category for,
``not_categories.py``: "a teapot" is close to the mug's phrases, closer still to "a teapot"),
fitted on labelled in- and out-of-category prompts (``bench/routing.py`` refits and checks it on
held-out lists; ``matched`` is ``confidence >= 0.5``). Attributes
(material, colour, size, height, the category's style options) are decided by contrast: the prompt
is compared with "a <noun>" and with "a <attribute> <noun>" / "a <noun> <option phrase>"; an
attribute is taken when it moves the prompt's embedding closer by more than a margin.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.models.text_encoder import EMBED_DIM, model_path, sentence_embeddings

from .draw import HEIGHT_WORDS, SIZE_WORDS, Hints
from .materials import COLORS, FAMILIES
from .not_categories import NOT_CATEGORIES
from .registry import categories

PROMPT_MATERIALS = ("wood", "metal", "gold", "fabric", "leather", "glass", "stone", "plastic", "ceramic", "brick")
MARGIN = 0.04        # how much closer an attribute phrase must be than the bare noun
# confidence = sigmoid(SIM_WEIGHT * (similarity - SIM_CENTRE) + LEAD_WEIGHT * lead
#                      + COUNTER_WEIGHT * (similarity - counter-example similarity)); from bench/routing.py --fit
SIM_WEIGHT, SIM_CENTRE, LEAD_WEIGHT, COUNTER_WEIGHT = 16.2, 0.950, 6.2, 11.1
HEAD_CLAUSE = re.compile(r"[,.;:!?\n]")


@dataclass
class Match:
    """The outcome of matching one prompt."""

    category: str
    confidence: float                # calibrated probability that the prompt asks for this category
    similarity: float                # cosine similarity to its nearest phrase
    hints: Hints
    alternatives: list[tuple[str, float]] = field(default_factory=list)   # next best (name, similarity)
    counter_example: tuple[str, float] = ("", -1.0)   # nearest not-a-category prompt, its similarity

    @property
    def matched(self) -> bool:
        """True when the prompt confidently names this category (``confidence >= 0.5``)."""
        return self.confidence >= 0.5

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


def cache_dir() -> Path:
    """Where phrase-embedding tables are kept: ``$KILN_CACHE_DIR`` or ``~/.cache/kiln``."""
    return Path(os.environ.get("KILN_CACHE_DIR") or Path.home() / ".cache" / "kiln")


def cached_embeddings(texts: list[str], device: str | None) -> np.ndarray:
    """MiniLM embeddings of ``texts``, stored on disk under a hash of the texts and the weights,
    so a process start reads ~1k phrase embeddings instead of computing them (CPU: seconds)."""
    weights = model_path() / "model.safetensors"
    key = hashlib.sha256("\n".join([str(weights.stat().st_size), *texts]).encode()).hexdigest()[:20]
    path = cache_dir() / f"phrases-{key}.npy"
    if path.exists():
        table = np.load(path, allow_pickle=False)
        if table.shape == (len(texts), EMBED_DIM):
            return table
    table = sentence_embeddings(texts, device=device)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, table)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs the recomputation next time
    return table


class PromptMatcher:
    """Embeds every category description and attribute phrase once (~1k short sentences, cached
    on disk); ``match(prompt)`` then costs one prompt embedding and a few dot products."""

    def __init__(self, device: str | None = "cpu"):
        self.device = device
        self.categories = categories()
        self.names = list(self.categories)
        texts, owner = [], []
        for i, name in enumerate(self.names):
            for text in self.categories[name].descriptions:
                texts.append(text)
                owner.append(i)
        layouts = {name: self._attribute_phrases(name) for name in self.names}
        phrases = [t for name in self.names for t in layouts[name][1]]
        owner += [i for i, name in enumerate(self.names) for _ in layouts[name][1]]
        options = {t for name in self.names for group, values in layouts[name][0].items()
                   if group.startswith("option:") for _, ts in values for t in ts}
        table = cached_embeddings(texts + phrases + NOT_CATEGORIES, device)
        self._counter = table[len(table) - len(NOT_CATEGORIES):]
        table = table[:len(table) - len(NOT_CATEGORIES)]
        # a category is recognised by its descriptions and its noun with a material, colour, size or
        # height; its style options ("a chair with a ladder back") name other things and only pick options
        identity = np.array([True] * len(texts) + [t not in options for t in phrases])
        self._phrases, self._owner = table[identity], np.array(owner)[identity]
        sentence_embeddings([self.names[0]], device=device)  # load MiniLM now, not on the first prompt
        self._groups: dict[str, list] = {}
        k = len(texts)
        for name in self.names:
            groups, flat = layouts[name]
            emb = table[k:k + len(flat)]
            k += len(flat)
            self._groups[name] = self._split(groups, emb)

    def _attribute_phrases(self, name: str) -> tuple[dict, list[str]]:
        """({group: [(value, [phrases])]}, flat phrase list starting with the bare 'a <noun>')."""
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
        return groups, [_article(noun)] + [t for values in groups.values() for _, ts in values for t in ts]

    @staticmethod
    def _split(groups: dict, emb: np.ndarray) -> list:
        """[(group, baseline embedding, [(value, phrase embeddings)])] from the flat table."""
        baseline, k, out = emb[0], 1, []
        for group, values in groups.items():
            entries = []
            for value, ts in values:
                entries.append((value, emb[k:k + len(ts)]))
                k += len(ts)
            out.append((group, baseline, entries))
        return out

    def similarities(self, prompt: str) -> tuple[np.ndarray, np.ndarray]:
        """(per-category best cosine similarity of the prompt or its head clause, prompt embedding)."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("the prompt is empty; describe the object, e.g. 'a wooden chair'")
        prompt = prompt.strip()
        texts = [prompt]
        head = HEAD_CLAUSE.split(prompt, maxsplit=1)[0].strip()
        if head and head != prompt and any(c.isalnum() for c in head):
            texts.append(head)
        emb = sentence_embeddings(texts, device=self.device)
        per_category = np.full(len(self.names), -1.0)
        np.maximum.at(per_category, self._owner, (self._phrases @ emb.T).max(axis=1))
        return per_category, emb[0]

    def counter_example(self, embedding: np.ndarray, leave_out: str | None = None) -> tuple[str, float]:
        """The nearest not-a-category prompt to a prompt's embedding and its cosine similarity
        (``leave_out``: skip that one, when calibrating on the list itself)."""
        sims = self._counter @ embedding
        if leave_out in NOT_CATEGORIES:
            sims = np.where(np.array(NOT_CATEGORIES) == leave_out, -1.0, sims)
        k = int(np.argmax(sims))
        return NOT_CATEGORIES[k], float(sims[k])

    def match(self, prompt: str) -> Match:
        """Match a non-empty prompt to a category and attribute hints."""
        per_category, e = self.similarities(prompt)
        order = np.argsort(-per_category)
        best = self.names[order[0]]
        hints = Hints()
        for group, baseline, entries in self._groups[best]:
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
        similarity = float(per_category[order[0]])
        counter = self.counter_example(e)
        confidence = calibrated_confidence(similarity, similarity - float(per_category[order[1]]),
                                           similarity - counter[1])
        return Match(best, confidence, similarity, hints, [(self.names[i], float(per_category[i])) for i in order[1:4]],
                     counter)


def calibrated_confidence(similarity: float, lead: float, counter_lead: float) -> float:
    """The probability that a prompt asks for its nearest category (see the module docstring):
    ``lead`` over the runner-up category, ``counter_lead`` over the nearest counter-example."""
    z = SIM_WEIGHT * (similarity - SIM_CENTRE) + LEAD_WEIGHT * lead + COUNTER_WEIGHT * counter_lead
    return float(1.0 / (1.0 + np.exp(-z)))
