"""Published image-to-3D shape models, run natively (plain PyTorch, torch SDPA, no custom kernels).

``load_published(folder, device)`` detects the layout and returns a loaded model:

- TripoSG: a folder with ``vae/`` and ``transformer/`` (diffusers-style), see :mod:`.triposg`;
- Hunyuan3D-2.1 shape: ``hunyuan3d-dit-v2-1/`` with ``config.yaml`` and ``model.fp16.ckpt`` or
  ``model.fp16.safetensors``, given that folder or its parent, see :mod:`.hunyuan`.

Every model offers ``decode_sdf(latents, queries)`` (negative inside, publisher latent space and
coordinates), ``velocity(x, t, cond)`` (the DiT output in the publisher's own time units) and
``generate(...)`` for the registry. Bad folders raise :class:`~backend.runtime.OpError` naming
the file and the tensor or key, before anything is allocated.
"""
from __future__ import annotations

from pathlib import Path

import torch

from backend.runtime import OpError

from .hunyuan import Hunyuan3DModel, dit_folder
from .triposg import TripoSGModel, is_triposg_folder

FAMILIES = {"triposg": TripoSGModel, "hunyuan3d-2.1": Hunyuan3DModel}


def detect_layout(folder: str | Path) -> str | None:
    """'triposg', 'hunyuan3d-2.1' or None for a folder that is neither."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    if is_triposg_folder(folder):
        return "triposg"
    if dit_folder(folder) is not None:
        return "hunyuan3d-2.1"
    return None


def load_published(folder: str | Path, device: str = "cpu", dtype: str | torch.dtype | None = None,
                   name: str | None = None):
    """Load the published model in ``folder`` on ``device`` (fp16 on CUDA, fp32 on CPU by default)."""
    from .memory import pick_dtype

    folder = Path(folder)
    family = detect_layout(folder)
    if family is None:
        raise OpError(f"{folder}: not a published model folder (TripoSG: vae/ + transformer/ with config.json; "
                      "Hunyuan3D-2.1: hunyuan3d-dit-v2-1/config.yaml + model.fp16.ckpt or .safetensors)")
    return FAMILIES[family].load(folder, device, pick_dtype(device, dtype), name)


__all__ = ["load_published", "detect_layout", "TripoSGModel", "Hunyuan3DModel"]
