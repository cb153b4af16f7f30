"""``kiln-backend models import FOLDER``: check a published folder and store its weights as safetensors.

A Hunyuan3D-2.1 ``model.fp16.ckpt`` is read once with ``torch.load(weights_only=True)``, checked
against ``config.yaml`` and written next to it as ``model.fp16.safetensors`` with the publisher's
own prefixes (``model.``, ``vae.``, ``conditioner.``); later loads read that file. A TripoSG folder
is already safetensors: it is only checked.
"""
from __future__ import annotations

from pathlib import Path

import torch

from backend.runtime import OpError

from . import detect_layout, weights
from .hunyuan import PARTS, Hunyuan3DModel, WeightFile, dit_folder
from .memory import GIB
from .triposg import TripoSGModel


def import_folder(folder: str | Path) -> list[str]:
    """Check ``folder`` (converting a .ckpt); returns report lines. OpError on any problem."""
    folder = Path(folder)
    family = detect_layout(folder)
    if family is None:
        raise OpError(f"{folder}: not a TripoSG or Hunyuan3D-2.1 folder")
    if family == "triposg":
        info = TripoSGModel.describe_folder(folder)
        TripoSGModel.check_files(folder, info)
        need = TripoSGModel.estimate(folder, torch.float16, info)
        return [f"{folder.name}: TripoSG, {info['parameters'] / 1e9:.2f}B parameters, already safetensors",
                f"memory at fp16: {need.describe()}"]
    root = dit_folder(folder)
    lines = []
    ckpt = next((root / n for n in ("model.fp16.ckpt", "model.ckpt") if (root / n).is_file()), None)
    if ckpt is not None:
        target = ckpt.with_suffix(".safetensors")
        info = Hunyuan3DModel.describe_folder(folder)
        info["file"] = WeightFile(ckpt)
        Hunyuan3DModel.check_file(info)
        data = info["file"].read()
        flat = {f"{part}.{name}": tensor for part in PARTS for name, tensor in data.get(part, {}).items()}
        weights.save_safetensors_atomic(flat, target, metadata={"source": ckpt.name, "format": "hunyuan3d-2.1"})
        lines.append(f"wrote {target} ({len(flat)} tensors from {ckpt.name}); it is read instead of the .ckpt from now on")
    info = Hunyuan3DModel.describe_folder(folder)
    shapes = Hunyuan3DModel.check_file(info)
    need = Hunyuan3DModel.estimate(info, shapes, torch.float16)
    lines.insert(0, f"{folder.name}: Hunyuan3D-2.1 shape, weights {info['file'].path.name}, "
                    f"conditioner {'present' if shapes.get('conditioner') else 'absent (image input unavailable)'}")
    lines.append(f"memory at fp16: {need.describe()} ({need.total / GIB:.1f} GiB)")
    return lines
