"""Model cards: ``<name>.md`` beside a model's weights, read by the registry.

The convention (``tests/test_model_cards.py`` holds every embedded model to it):

- Markdown. Line 1 is the title, ``# <name>: <what it is>``; the next paragraph (up to the first
  blank line) is a one-paragraph summary.
- A line ``License: <the model's own licence>`` (the weights' licence, not the data's).
- Level-2 sections on the data (what it was trained on, with the data's licences and the
  attribution they require), training (command, time, machine), and what the model is good and
  bad at, with numbers (``## Data``, ``## Training``, ``## Good at``, ``## Bad at``; a heading
  counts when it contains the key word, so ``## Good and bad at`` covers both).

The registry takes the licence from the card when the card has one, and ``welcome``,
``kiln-backend models`` and the add-on show the card's title, summary and licence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LICENSE_LINE = re.compile(r"^license:\s*(\S.*?)\s*$", re.I | re.M)
SECTIONS = {"Data": "data", "Training": "train", "Good at": "good", "Bad at": "bad"}  # name: word its heading has


@dataclass(frozen=True)
class ModelCard:
    """What the registry reads from a card."""

    path: Path
    title: str
    summary: str
    license: str | None
    sections: tuple[str, ...]   # the level-2 headings, in order

    def missing_sections(self) -> list[str]:
        """The required sections (``SECTIONS``) that no heading covers."""
        lowered = [s.lower() for s in self.sections]
        return [name for name, word in SECTIONS.items() if not any(word in s for s in lowered)]


def read_card(path: str | Path) -> ModelCard:
    """Parse a card; OSError if it cannot be read, ValueError if it lacks a title or a summary."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    body = _strip_front_matter(text)
    lines = body.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or not lines[start].startswith("# "):
        raise ValueError(f"{path}: a model card starts with a '# title' line")
    paragraph = []
    for line in lines[start + 1:]:
        if not line.strip():
            if paragraph:
                break
            continue
        if line.startswith("#") or LICENSE_LINE.match(line):
            break
        paragraph.append(line.strip())
    if not paragraph:
        raise ValueError(f"{path}: a model card has a one-paragraph summary after its title")
    found = LICENSE_LINE.search(text)
    return ModelCard(path=path, title=lines[start][2:].strip(), summary=" ".join(paragraph),
                     license=found.group(1) if found else None,
                     sections=tuple(m.strip() for m in re.findall(r"^## (.+)$", body, re.M)))


def _strip_front_matter(text: str) -> str:
    """Drop a leading YAML block (``---`` ... ``---``), as published cards (README.md) have."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            return text[end + 4:]
    return text
