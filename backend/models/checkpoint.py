"""Checkpoints as ``NAME.safetensors`` (tensors, prefixed per sub-model) + ``NAME.json`` (config).

No pickle: tensors go through safetensors, everything else (configs, optimizer step counts,
training state) through JSON. Writes are atomic (temporary file + rename), so an interrupted
save never leaves a half-written checkpoint behind.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or does not match the model it is loaded into."""


def checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    """(weights, config) paths for a checkpoint stem (``dir/name`` -> ``dir/name.safetensors``, ``.json``)."""
    stem = Path(stem)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save_checkpoint(stem: str | Path, tensors: dict[str, torch.Tensor], config: dict) -> tuple[Path, Path]:
    """Write ``tensors`` and ``config`` atomically; returns the two paths."""
    from safetensors.torch import save_file

    weights, config_path = checkpoint_paths(stem)
    weights.parent.mkdir(parents=True, exist_ok=True)
    contiguous = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    tmp_weights = weights.with_name(weights.name + ".tmp")
    tmp_config = config_path.with_name(config_path.name + ".tmp")
    save_file(contiguous, str(tmp_weights))
    tmp_config.write_text(json.dumps(config, indent=2, sort_keys=True))
    os.replace(tmp_weights, weights)
    os.replace(tmp_config, config_path)
    return weights, config_path


def module_tensors(modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    """The state dicts of ``{prefix: module}`` merged with ``prefix.`` in front of every name."""
    merged = {}
    for prefix, module in modules.items():
        for name, tensor in module.state_dict().items():
            merged[f"{prefix}.{name}" if prefix else name] = tensor
    return merged


def read_config(stem: str | Path) -> dict:
    """The JSON config of a checkpoint."""
    _, config_path = checkpoint_paths(stem)
    if not config_path.is_file():
        raise CheckpointError(f"checkpoint config {config_path} not found")
    try:
        return json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint config {config_path} is not valid JSON: {exc}") from None


def read_tensors(path: str | Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    """All tensors of a ``.safetensors`` file."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} not found")
    try:
        return load_file(str(path), device=device)
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"cannot read weights {path}: {exc}") from None


def load_into(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str = "") -> None:
    """Load the ``prefix.``-named tensors into ``module`` strictly: every name and shape must match."""
    lead = f"{prefix}." if prefix else ""
    state = {name[len(lead):]: t for name, t in tensors.items() if name.startswith(lead)}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(n for n in set(expected) & set(state) if tuple(expected[n].shape) != tuple(state[n].shape))
    if missing or unexpected or wrong:
        detail = []
        if missing:
            detail.append(f"missing {len(missing)} (e.g. {lead}{missing[0]})")
        if unexpected:
            detail.append(f"unexpected {len(unexpected)} (e.g. {lead}{unexpected[0]})")
        if wrong:
            name = wrong[0]
            detail.append(f"shape mismatch {len(wrong)} (e.g. {lead}{name}: checkpoint "
                          f"{tuple(state[name].shape)} vs model {tuple(expected[name].shape)})")
        raise CheckpointError(f"weights do not match the config: {'; '.join(detail)}")
    module.load_state_dict(state, strict=True)
