"""Registry provider for learned shape models.

- ``kiln-shape-s`` and ``kiln-shape-m``: embedded in ``backend/weights/`` (text + image), each
  registered only when its weights are there; the higher priority is the default.
- Kiln-format checkpoints in the user's models folder (``NAME.json`` with ``"format": "kiln-shape"``
  next to ``NAME.safetensors``, e.g. from ``kiln-backend train``; its card, when there is one, is
  ``NAME.md``).

Publishers' folders (TripoSG, Hunyuan3D-2.1) are registered by ``backend.models.published.provider``.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from backend.models.registry import WEIGHTS_DIR, ModelEntry

log = logging.getLogger(__name__)

EMBEDDED_NAME = "kiln-shape-s"
EMBEDDED_PRIORITY = 20
EMBEDDED_MODELS = {EMBEDDED_NAME: EMBEDDED_PRIORITY, "kiln-shape-m": 15}


def model_entries(models_dir: Path | None) -> list[ModelEntry]:
    """Every shape model found: the embedded ones, then the user's."""
    entries = []
    for name, priority in EMBEDDED_MODELS.items():
        if _is_kiln_checkpoint(WEIGHTS_DIR / name):
            entries.append(_kiln_entry(WEIGHTS_DIR / name, name, priority))
    if models_dir is not None and Path(models_dir).is_dir():
        for path in sorted(Path(models_dir).iterdir()):
            if path.suffix == ".json" and _is_kiln_checkpoint(path.with_suffix("")):
                entries.append(_kiln_entry(path.with_suffix(""), path.stem, 10))
    return entries


def _is_kiln_checkpoint(stem: Path) -> bool:
    config = stem.with_name(stem.name + ".json")
    weights = stem.with_name(stem.name + ".safetensors")
    if not (config.is_file() and weights.is_file()):
        return False
    try:
        return json.loads(config.read_text()).get("format") == "kiln-shape"
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring %s: %s", config, exc)
        return False


def _kiln_entry(stem: Path, name: str, priority: int) -> ModelEntry:
    from backend.models.conditioning import modality, slot_kinds

    config = json.loads(stem.with_name(stem.name + ".json").read_text())
    kinds = slot_kinds(config["conditioning"]).values()
    conditioning = tuple(sorted({modality(k) for k in kinds}, key=("text", "image").index))

    def load(device: str):
        from backend.models.shape_pipeline import ShapePipeline
        pipeline = ShapePipeline.from_checkpoint(stem, device)
        pipeline.config.setdefault("name", name)
        return pipeline

    return ModelEntry(name=name, capability="shape",
                      description=config.get("description", "latent-set VAE + rectified-flow transformer"),
                      license=config.get("license", "GPL-3.0-or-later"), conditioning=conditioning, load=load,
                      weights=stem.with_name(stem.name + ".safetensors"), priority=priority,
                      extra={"tokens": config.get("num_tokens", config["vae"].get("num_tokens"))})
