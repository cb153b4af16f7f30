"""Diffusion texturing models: a Stable Diffusion checkpoint + a depth ControlNet from the models folder.

A model is a folder in the user's models folder in diffusers' layout (what
``StableDiffusionControlNetPipeline.save_pretrained`` writes, or a Stable Diffusion folder with a
ControlNet folder copied in as ``controlnet/``): ``model_index.json`` and the components ``unet``,
``vae``, ``text_encoder``, ``tokenizer``, ``scheduler`` and ``controlnet``, weights as safetensors. Loading reads only that folder (``local_files_only``, no download, no
pickle). On CUDA it runs in fp16; attention slicing and model CPU offload (needs ``accelerate``)
bring a SD1.5-size model into 8-12 GB. Only registered when such a folder is present.
"""
from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from .registry import ModelEntry

log = logging.getLogger(__name__)
COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler", "controlnet")
CAPABILITY = "texture"


def missing_components(folder: Path) -> list[str]:
    """The components a diffusion texture folder lacks (a subfolder with a config, or a tokenizer vocab)."""
    missing = []
    for name in COMPONENTS:
        sub = folder / name
        if name == "tokenizer":
            present = (sub / "tokenizer_config.json").is_file() and any(
                (sub / f).is_file() for f in ("vocab.json", "tokenizer.json"))
        else:
            present = (sub / ("scheduler_config.json" if name == "scheduler" else "config.json")).is_file()
        if not present:
            missing.append(name)
        elif name not in ("tokenizer", "scheduler") and not any(sub.glob("*.safetensors")):
            missing.append(f"{name} (no .safetensors weights)")
    return missing


def _is_diffusion_folder(folder: Path) -> bool:
    """A diffusers pipeline folder with a ControlNet: in its index, or copied in as ``controlnet/``."""
    index = folder / "model_index.json"
    if not index.is_file():
        return False
    try:
        keys = json.loads(index.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(keys, dict) and "unet" in keys and (
        "controlnet" in keys or (folder / "controlnet" / "config.json").is_file())


def model_entries(models_dir: Path | None) -> list[ModelEntry]:
    """One entry per diffusers ControlNet pipeline folder in the models folder (none without one)."""
    if models_dir is None or not Path(models_dir).is_dir():
        return []
    if importlib.util.find_spec("diffusers") is None:
        log.warning("diffusers is not installed: diffusion texture folders are ignored")
        return []
    entries = []
    for folder in sorted(p for p in Path(models_dir).iterdir() if p.is_dir() and _is_diffusion_folder(p)):
        missing = missing_components(folder)
        entries.append(ModelEntry(
            name=folder.name, capability=CAPABILITY,
            description="Stable Diffusion + depth ControlNet: paints 4 views in one image, baked onto the UVs",
            license="see the model folder (the publisher's licence applies)", conditioning=("text",),
            load=lambda device, folder=folder: DiffusionTexturer(folder, device), weights=folder,
            extra={"missing": missing} if missing else {}))
    return entries


class DiffusionTexturer:
    """A loaded depth-ControlNet Stable Diffusion pipeline."""

    def __init__(self, folder: Path, device: str = "cpu"):
        missing = missing_components(folder)
        if missing:
            raise ValueError(f"model folder {folder.name!r} is missing: {', '.join(missing)} "
                             f"(a diffusion texture folder needs {', '.join(COMPONENTS)})")
        import torch
        from diffusers import ControlNetModel, StableDiffusionControlNetPipeline

        self.device = device
        self.dtype = torch.float16 if device.startswith("cuda") else torch.float32
        options = dict(dtype=self.dtype, local_files_only=True, use_safetensors=True)
        # a plain SD folder with a ControlNet folder copied in: its index does not list it
        controlnet = ControlNetModel.from_pretrained(str(folder / "controlnet"), **options)
        self.pipe = StableDiffusionControlNetPipeline.from_pretrained(
            str(folder), controlnet=controlnet, safety_checker=None, feature_extractor=None,
            requires_safety_checker=False, **options)
        self.pipe.set_progress_bar_config(disable=True)
        self.offloaded = False
        self.pipe.to(device)

    def configure(self, attention_slicing: bool, offload: bool) -> str:
        """Apply the memory options; returns a line saying what is in effect."""
        if attention_slicing:
            self.pipe.enable_attention_slicing()
        else:
            self.pipe.disable_attention_slicing()
        note = f"{str(self.dtype).replace('torch.', '')} on {self.device}, attention slicing {'on' if attention_slicing else 'off'}"
        if offload and not self.device.startswith("cuda"):
            return note + "; CPU offload ignored (already on the CPU)"
        if offload and not self.offloaded:
            if importlib.util.find_spec("accelerate") is None:
                return note + "; CPU offload unavailable (install accelerate)"
            self.pipe.enable_model_cpu_offload()
            self.offloaded = True
        elif not offload and self.offloaded:
            self.pipe.remove_all_hooks()
            self.pipe.to(self.device)
            self.offloaded = False
        return note + ("; model CPU offload on" if self.offloaded else "")

    def paint(self, control: np.ndarray, prompt: str, negative: str, steps: int, guidance: float, seed: int,
              step_done: Callable[[int, int], None]) -> np.ndarray:
        """An RGB image (H,W,3) in [0,1] for the control image (H,W,3) in [0,1].

        ``step_done(step, steps)`` runs after every denoising step (progress; raise there to cancel).
        """
        import torch
        from PIL import Image

        height, width = control.shape[:2]
        picture = Image.fromarray(np.clip(np.round(control * 255), 0, 255).astype(np.uint8))
        generator = torch.Generator("cpu").manual_seed(int(seed))

        def on_step(pipe, step, timestep, tensors):
            step_done(step + 1, steps)
            return tensors

        with torch.inference_mode():
            out = self.pipe(prompt=prompt, negative_prompt=negative or None, image=picture, height=height, width=width,
                            num_inference_steps=steps, guidance_scale=guidance, generator=generator,
                            output_type="np", callback_on_step_end=on_step)
        return np.asarray(out.images[0], dtype=np.float64)
