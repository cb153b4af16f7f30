"""Publishers' weight files: read them safely, check them against a config, load them whole or not at all.

Only two readers exist: safetensors, and ``torch.load(weights_only=True)`` for a publisher's
``.ckpt`` (never an unrestricted unpickle). :func:`check_tensors` compares a file's names and
shapes with what the config builds (on the meta device, no memory) *before* anything is
allocated; :func:`assign_module` then moves the tensors into a meta-built module, so a failure
leaves nothing half loaded. Every error is an :class:`~backend.runtime.OpError` naming the file
and the tensor.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

import torch
from torch import nn

from backend.runtime import OpError


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Names and shapes in a ``.safetensors`` file, read from its header only."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            return {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except Exception as exc:  # safetensors raises its own types for a corrupt header
        raise OpError(f"{path}: not a readable safetensors file ({exc})") from None


def read_safetensors(path: Path, names: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file (only ``names`` when given), on the CPU."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            wanted = list(handle.keys()) if names is None else list(names)
            return {name: handle.get_tensor(name) for name in wanted}
    except OpError:
        raise
    except Exception as exc:
        raise OpError(f"{path}: cannot read tensors ({exc})") from None


def read_ckpt(path: Path) -> dict:
    """A publisher's ``.ckpt`` through ``torch.load(weights_only=True)``, memory-mapped when possible."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc):
            raise OpError(f"{path}: cannot read it as a weights-only checkpoint ({exc})") from None
    except Exception as exc:  # an unpickling refusal, a truncated zip, ...
        raise OpError(f"{path}: cannot read it as a weights-only checkpoint ({exc})") from None
    try:  # legacy (non-zip) files cannot be memory-mapped
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise OpError(f"{path}: cannot read it as a weights-only checkpoint ({exc})") from None


def expected_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """The persistent state of ``module`` as {name: shape}."""
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def check_tensors(found: Mapping[str, tuple[int, ...]], expected: Mapping[str, tuple[int, ...]], *,
                  file: Path | str, config: Path | str, prefix: str = "",
                  optional: Iterable[str] = ()) -> None:
    """Raise OpError unless ``found`` has every expected tensor with its shape and nothing else.

    ``optional`` lists name prefixes (after ``prefix``) that may be missing *as a group*: all of
    a group or none of it (e.g. a VAE encoder the publisher's own loader does not require).
    """
    lead = f"{prefix}." if prefix else ""
    missing = [n for n in expected if n not in found]
    groups = {}
    for group in optional:
        members = [n for n in expected if n.startswith(group)]
        absent = [n for n in members if n not in found]
        if absent and len(absent) < len(members):
            raise OpError(f"{file}: tensor {lead}{absent[0]} is missing while the rest of {lead}{group}* is there "
                          f"(a partial {group.rstrip('.')} cannot be used)")
        groups[group] = bool(absent)
    missing = [n for n in missing if not any(n.startswith(g) and skipped for g, skipped in groups.items())]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise OpError(f"{file}: missing tensor {lead}{missing[0]}{more} (expected by {config})")
    extra = sorted(n for n in found if n not in expected)
    if extra:
        more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
        raise OpError(f"{file}: unexpected tensor {lead}{extra[0]}{more} (not part of the model {config} describes)")
    for name, shape in expected.items():
        if name in found and tuple(found[name]) != tuple(shape):
            raise OpError(f"{file}: tensor {lead}{name} has shape {tuple(found[name])} but {config} "
                          f"gives {tuple(shape)}")


def assign_module(module: nn.Module, tensors: Mapping[str, torch.Tensor], device: str,
                  dtype: torch.dtype) -> nn.Module:
    """Fill a meta-built ``module`` with ``tensors`` (already checked), cast to ``dtype`` on ``device``."""
    state = {name: tensor.to(device=device, dtype=dtype) if tensor.is_floating_point() else tensor.to(device)
             for name, tensor in tensors.items()}
    module.load_state_dict(state, strict=True, assign=True)
    leftover = [n for n, p in list(module.named_parameters()) + list(module.named_buffers()) if p.is_meta]
    if leftover:
        raise OpError(f"internal: {leftover[0]} was not loaded")
    return module.eval().requires_grad_(False)


def build_on_meta(factory, config_path: Path | str) -> nn.Module:
    """``factory()`` on the meta device; a config the model cannot be built from is an OpError."""
    try:
        with torch.device("meta"):
            return factory()
    except (TypeError, ValueError, KeyError, AssertionError, ZeroDivisionError) as exc:
        raise OpError(f"{config_path}: cannot build the model from this config ({type(exc).__name__}: {exc})") \
            from None


def save_safetensors_atomic(tensors: Mapping[str, torch.Tensor], path: Path, metadata: dict | None = None) -> None:
    """Write ``tensors`` to ``path`` through a temporary file and a rename."""
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)
