"""Registry provider: every published-model folder dropped into the models folder becomes a shape model.

Each entry carries its licence line, ``conditioning=("image",)``, the run dtypes, the
publisher's recommended settings and a memory estimate at fp16 (what a CUDA run needs). A folder
whose files do not match its config is still listed, with the problem in its description, so
asking for it gives the clear error instead of an unknown-model one.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from backend.runtime import OpError

from ..registry import ModelEntry
from . import detect_layout, load_published
from .hunyuan import LICENSE as HUNYUAN_LICENSE, Hunyuan3DModel
from .memory import GIB
from .triposg import LICENSE as TRIPOSG_LICENSE, TripoSGModel

log = logging.getLogger(__name__)

PRIORITY = 5
DESCRIPTIONS = {
    "triposg": "TripoSG (VAST-AI-Research) image-to-3D: rectified-flow DiT over SDF VAE latents, DINOv2 image tokens",
    "hunyuan3d-2.1": "Hunyuan3D-2.1 shape (Tencent) image-to-3D: flow-matching DiT with MoE over ShapeVAE latents, "
                     "DINOv2 image tokens",
}
LICENSES = {"triposg": TRIPOSG_LICENSE, "hunyuan3d-2.1": HUNYUAN_LICENSE}


def model_entries(models_dir: Path | None) -> list[ModelEntry]:
    if models_dir is None or not Path(models_dir).is_dir():
        return []
    entries = []
    for folder in sorted(Path(models_dir).iterdir()):
        family = detect_layout(folder) if folder.is_dir() else None
        if family is not None:
            entries.append(_entry(folder, family))
    return entries


def _entry(folder: Path, family: str) -> ModelEntry:
    model_class = TripoSGModel if family == "triposg" else Hunyuan3DModel
    extra = {"family": family, "dtype": {"cuda": "float16", "cpu": "float32"},
             "recommended": {k: model_class.DEFAULTS[k] for k in ("steps", "guidance", "resolution")}}
    description = DESCRIPTIONS[family]
    weights = None
    try:
        need, weights = _estimate(folder, family)
        extra["memory_gib"] = {"float16": round(need.total / GIB, 2)}
        extra["vram_gib"] = round(need.total / GIB, 2)
    except OpError as exc:
        log.warning("published model %s: %s", folder.name, exc)
        extra["problem"] = str(exc)
        description += f" [cannot load: {exc}]"

    def load(device: str):
        return load_published(folder, device, name=folder.name)

    return ModelEntry(name=folder.name, capability="shape", description=description, license=LICENSES[family],
                      conditioning=("image",), load=load, weights=weights, priority=PRIORITY, extra=extra,
                      card=folder / "README.md" if (folder / "README.md").is_file() else None)


def _estimate(folder: Path, family: str):
    if family == "triposg":
        info = TripoSGModel.describe_folder(folder)
        files = TripoSGModel.check_files(folder, info)
        return TripoSGModel.estimate(folder, torch.float16, info), files["transformer"]
    info = Hunyuan3DModel.describe_folder(folder)
    shapes = Hunyuan3DModel.check_file(info)
    return Hunyuan3DModel.estimate(info, shapes, torch.float16), info["file"].path
