"""Condition tokens for the flow transformer: text (MiniLM), image (EfficientNet-lite0 or DINOv2).

A model's config names what each cross-attention reads::

    "conditioning": {"context": {"kind": "text-minilm", "max_tokens": 32},
                     "context_2": {"kind": "image-efficientnet-lite0"}}

Kinds: ``text-minilm`` (384-d token states, ``backend.models.text_encoder``),
``image-efficientnet-lite0`` (grid x grid tokens of 1280 features, ``grid`` <= 7), ``image-dinov2`` (DINOv2 last hidden
state through transformers, from a local folder given as ``path``). A request may give text,
image or both; an absent input (and the unconditional branch of classifier-free guidance)
is all-zero tokens, which is how the models are trained to see "no condition".
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

TEXT_KIND = "text-minilm"
EFFICIENTNET_KIND = "image-efficientnet-lite0"
DINOV2_KIND = "image-dinov2"
KINDS = (TEXT_KIND, EFFICIENTNET_KIND, DINOV2_KIND)
SLOTS = ("context", "context_2")


class ConditioningError(ValueError):
    """A request whose inputs this model cannot take (e.g. text for an image-only model)."""


def slot_kinds(spec: dict) -> dict[str, str]:
    """{slot: kind} for a conditioning spec, validated."""
    kinds = {}
    for slot, entry in spec.items():
        if slot not in SLOTS:
            raise ValueError(f"unknown conditioning slot {slot!r}; use {', '.join(SLOTS)}")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown conditioning kind {kind!r}; use one of {', '.join(KINDS)}")
        kinds[slot] = kind
    if "context" not in kinds:
        raise ValueError("a conditioning spec needs at least 'context'")
    return kinds


def modality(kind: str) -> str:
    """'text' or 'image'."""
    return "text" if kind == TEXT_KIND else "image"


class Conditioner:
    """Encodes prompts/images into the keyword tensors the transformer's forward takes."""

    def __init__(self, spec: dict, device: str = "cpu", root: Path | None = None):
        self.spec = spec
        self.kinds = slot_kinds(spec)
        self.device = device
        self.root = Path(root) if root else None
        self._dinov2 = None

    @property
    def modalities(self) -> tuple[str, ...]:
        """The inputs this model understands, e.g. ("text", "image")."""
        return tuple(sorted({modality(k) for k in self.kinds.values()}, key=("text", "image").index))

    def encode(self, prompt: str | None, image: np.ndarray | None) -> tuple[dict, dict]:
        """(condition, uncondition) keyword dicts, batch 1, on the device."""
        prompt = prompt.strip() if isinstance(prompt, str) else None
        wanted = {"text": bool(prompt), "image": image is not None}
        if not any(wanted.values()):
            raise ConditioningError("give a prompt, an image, or both")
        for name, given in wanted.items():
            if given and name not in self.modalities:
                raise ConditioningError(f"this model takes {' and '.join(self.modalities)} input, not {name}")
        cond, uncond = {}, {}
        for slot, kind in self.kinds.items():
            tokens, mask = self._encode_slot(slot, kind, prompt, image, wanted[modality(kind)])
            cond[slot], cond[f"{slot}_mask"] = tokens, mask
            uncond[slot] = torch.zeros_like(tokens)
            uncond[f"{slot}_mask"] = torch.ones_like(mask)
        return cond, uncond

    def token_shape(self, slot: str) -> tuple[int, int]:
        """(tokens, channels) of a slot's output."""
        kind = self.kinds[slot]
        if kind == TEXT_KIND:
            from .text_encoder import EMBED_DIM
            return int(self.spec[slot].get("max_tokens", 32)), EMBED_DIM
        if kind == EFFICIENTNET_KIND:
            from .image_encoder import FEATURE_DIM
            return int(self.spec[slot].get("grid", 7)) ** 2, FEATURE_DIM
        model = self._dinov2_model()
        return -1, int(model.config.hidden_size)

    def _encode_slot(self, slot, kind, prompt, image, given):
        if kind == TEXT_KIND:
            count, dim = self.token_shape(slot)
            if not given:
                return torch.zeros(1, count, dim, device=self.device), torch.ones(1, count, dtype=torch.bool,
                                                                                 device=self.device)
            tokens, mask = text_tokens([prompt], count, self.device)
            return tokens, mask
        if not given:
            if kind == DINOV2_KIND:
                raise ConditioningError("this model needs an image")
            count, dim = self.token_shape(slot)
            return torch.zeros(1, count, dim, device=self.device), torch.ones(1, count, dtype=torch.bool,
                                                                             device=self.device)
        if kind == EFFICIENTNET_KIND:
            from .image_encoder import image_tokens
            tokens = image_tokens([image], self.device, self.spec[slot].get("background", 1.0),
                                  int(self.spec[slot].get("grid", 7)))
        else:
            tokens = self._dinov2_tokens(image)
        return tokens, torch.ones(tokens.shape[:2], dtype=torch.bool, device=self.device)

    def _dinov2_model(self):
        if self._dinov2 is None:
            from transformers import Dinov2Model
            path = Path(self.spec["context"].get("path", ""))
            if not path.is_absolute() and self.root is not None:
                path = self.root / path
            if not (path / "config.json").is_file():
                raise ConditioningError(f"DINOv2 weights not found in {path} (expected config.json + weights)")
            model = Dinov2Model.from_pretrained(str(path), local_files_only=True)
            self._dinov2 = (model.eval().to(self.device), _read_preprocessor(path.parent, path.name))
        return self._dinov2[0]

    @torch.no_grad()
    def _dinov2_tokens(self, image: np.ndarray) -> torch.Tensor:
        from .image_encoder import prepare_image
        model = self._dinov2_model()
        size, mean, std = self._dinov2[1]
        pixels = prepare_image(image, background=self.spec["context"].get("background", 1.0), size=size)
        # prepare_image normalises with ImageNet statistics; re-normalise if DINOv2's differ
        pixels = _renormalise(pixels, mean, std)
        return model(pixel_values=pixels[None].to(self.device)).last_hidden_state


def text_tokens(prompts: list[str], max_tokens: int, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """MiniLM token states (N,T,384) and mask (N,T) as tensors on ``device``."""
    from .text_encoder import token_embeddings
    emb, mask = token_embeddings(prompts, max_tokens=max_tokens, device=device)
    return torch.from_numpy(emb).to(device), torch.from_numpy(mask).to(device)


def _read_preprocessor(root: Path, encoder_folder: str) -> tuple[int, tuple, tuple]:
    """(size, mean, std) from TripoSG's ``feature_extractor_dinov2/preprocessor_config.json`` if present."""
    from .image_encoder import MEAN, STD
    candidates = [root / "feature_extractor_dinov2" / "preprocessor_config.json",
                  root / encoder_folder / "preprocessor_config.json"]
    for candidate in candidates:
        if candidate.is_file():
            data = json.loads(candidate.read_text())
            crop = data.get("crop_size", {})
            size = crop.get("height") if isinstance(crop, dict) else crop
            size = size or (data.get("size") or {}).get("shortest_edge", 224)
            return int(size), tuple(data.get("image_mean", MEAN)), tuple(data.get("image_std", STD))
    return 224, MEAN, STD


def _renormalise(pixels: torch.Tensor, mean, std) -> torch.Tensor:
    from .image_encoder import MEAN, STD
    raw = pixels * torch.tensor(STD).view(3, 1, 1) + torch.tensor(MEAN).view(3, 1, 1)
    return (raw - torch.tensor(mean, dtype=raw.dtype).view(3, 1, 1)) / torch.tensor(std, dtype=raw.dtype).view(3, 1, 1)
