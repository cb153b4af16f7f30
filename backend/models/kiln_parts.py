"""Registry provider and loaded form of the part models (capability ``parts``).

- ``kiln-parts-s``: the embedded default in ``backend/weights/`` (registered when its weights
  are there), priority 20.
- Kiln-format part checkpoints in the user's models folder: ``NAME.json`` with
  ``"format": "kiln-parts"`` next to ``NAME.safetensors`` (e.g. ``OUT/best`` of ``backend.train.parts``).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from backend.models.registry import ModelEntry

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
EMBEDDED_NAME = "kiln-parts-s"
FORMAT = "kiln-parts"
POINTS_PER_PASS = 1024   # the point density the network was trained at


class PartsModel:
    """A loaded part network: ``embed(points, normals)`` -> (unit features (M,D), name probabilities (M,V))."""

    def __init__(self, name: str, net, vocabulary: list[str], device: str = "cpu"):
        self.name, self.net, self.vocabulary, self.device = name, net, list(vocabulary), device

    def embed(self, points: np.ndarray, normals: np.ndarray, check=None) -> tuple[np.ndarray, np.ndarray]:
        """Points (M,3) normalised like training data (bbox centred, longest side [-1, 1], z up),
        unit normals (M,3). M is split into passes of ``POINTS_PER_PASS`` points (M must be a
        multiple of it, or smaller than it), each seen by the network as a whole shape."""
        import torch

        m = len(points)
        per = min(POINTS_PER_PASS, m)
        if m % per:
            raise ValueError(f"{m} points is not a multiple of {per}")
        p = torch.from_numpy(np.asarray(points, np.float32).reshape(-1, per, 3)).to(self.device)
        n = torch.from_numpy(np.asarray(normals, np.float32).reshape(-1, per, 3)).to(self.device)
        feats, probs = [], []
        with torch.inference_mode():
            for start in range(len(p)):  # one pass at a time: a check (progress, cancel) between
                if check is not None:
                    check()
                f, logits = self.net(p[start:start + 1], n[start:start + 1])
                feats.append(f.reshape(-1, f.shape[-1]).float().cpu().numpy())
                probs.append(torch.softmax(logits.float(), dim=-1).reshape(-1, logits.shape[-1]).cpu().numpy())
        return np.concatenate(feats), np.concatenate(probs)


def load_parts_model(stem: Path, name: str, device: str = "cpu") -> PartsModel:
    """Build the network from ``stem.json`` and load ``stem.safetensors`` (no pickle)."""
    from safetensors.torch import load_file

    from backend.models.parts_net import PartsNet, PartsNetConfig

    record = json.loads(stem.with_name(stem.name + ".json").read_text())
    config = PartsNetConfig.from_json(record["model"])
    net = PartsNet(config)
    tensors = load_file(str(stem.with_name(stem.name + ".safetensors")))
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    net.load_state_dict(state)
    net.eval().to(device)
    return PartsModel(name, net, config.vocabulary, device)


def _is_parts_checkpoint(stem: Path) -> bool:
    config = stem.with_name(stem.name + ".json")
    if not (config.is_file() and stem.with_name(stem.name + ".safetensors").is_file()):
        return False
    try:
        record = json.loads(config.read_text())
        return isinstance(record, dict) and record.get("format") == FORMAT
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring %s: %s", config, exc)
        return False


def _license(stem: Path) -> str:
    card = stem.with_name(stem.name + ".md")
    if card.is_file():
        for line in card.read_text().splitlines():
            if line.startswith("License:"):
                return line[len("License:"):].strip()
    return "unknown (no model card)"


def _entry(stem: Path, name: str, priority: int) -> ModelEntry:
    record = json.loads(stem.with_name(stem.name + ".json").read_text())
    return ModelEntry(
        name=name, capability="parts",
        description=record.get("description", "point network: part-grouping features + part names"),
        license=_license(stem), conditioning=(), weights=stem.with_name(stem.name + ".safetensors"),
        priority=priority, load=lambda device: load_parts_model(stem, name, device),
        extra={"part_names": len(record.get("model", {}).get("vocabulary", []))})


def model_entries(models_dir: Path | None) -> list[ModelEntry]:
    """The embedded part model, then the user's kiln-parts checkpoints."""
    entries = []
    embedded = WEIGHTS_DIR / EMBEDDED_NAME
    if _is_parts_checkpoint(embedded):
        entries.append(_entry(embedded, EMBEDDED_NAME, 20))
    if models_dir is not None and Path(models_dir).is_dir():
        for path in sorted(Path(models_dir).glob("*.json")):
            if _is_parts_checkpoint(path.with_suffix("")):
                entries.append(_entry(path.with_suffix(""), path.stem, 10))
    return entries
