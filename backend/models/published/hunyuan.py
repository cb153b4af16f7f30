"""Hunyuan3D-2.1 shape (Tencent) from its published ``hunyuan3d-dit-v2-1/`` folder, in plain PyTorch.

Layout (``tencent/Hunyuan3D-2.1``): ``hunyuan3d-dit-v2-1/config.yaml`` (``model``, ``vae``,
``conditioner``, ``scheduler``, ``image_processor`` sections with ``target`` + ``params``) and
``model.fp16.ckpt``: a dict ``{'model': DiT state, 'vae': VAE state, 'conditioner': DINOv2
encoder state}`` read with ``torch.load(weights_only=True)`` only; or ``model.fp16.safetensors``
with the same tensors prefixed ``model.`` / ``vae.`` / ``conditioner.`` (their
``use_safetensors`` layout, which ``kiln-backend models import`` writes).

Conventions, from hy3dshape's code:
- ``velocity(x, t, cond)``: the DiT output for flow time t in [0, 1] (0 = noise) and
  ``contexts={'main': cond}`` (DINOv2-large last hidden state with its CLS token, 1370 tokens at
  518 px; unconditional = zeros); sampling per :func:`~.sampling.hunyuan_schedule`, CFG batched
  ``[cond, uncond]`` and applied for guidance >= 0;
- latents are divided by ``vae.params.scale_factor`` before the VAE; its decoder returns
  occupancy logits, positive inside, so ``decode_sdf`` returns their negation;
- pipeline defaults: 50 steps, guidance 5.0, box 1.01, octree resolution 384, mc level 0.
The DINOv2 encoder is built at the first image from the ``conditioner`` tensors, so a
checkpoint without them still loads its shape parts.

Licence: the Tencent Hunyuan 3D 2.1 Community License, which does not apply in (and grants no
rights for) the European Union, the United Kingdom and South Korea.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from backend.runtime import OpError

from . import memory, sampling, weights
from .base import PublishedShapeModel
from .hunyuan_dit import HunyuanDiTConfig, HunYuanDiTPlain
from .hunyuan_vae import EncoderLayout, HunyuanShapeVAE, HunyuanVAEConfig
from .images import hunyuan_pixels

log = logging.getLogger(__name__)

LICENSE = ("Tencent Hunyuan 3D 2.1 Community License: not licensed in the European Union, the United Kingdom "
           "or South Korea; over 1M monthly users needs a licence from Tencent")
DIT_FOLDER = "hunyuan3d-dit-v2-1"
WEIGHT_NAMES = ("model.fp16.safetensors", "model.fp16.ckpt", "model.safetensors", "model.ckpt")
PARTS = ("model", "vae", "conditioner")
ENCODER_PREFIX = "main_image_encoder.model."


def dit_folder(folder: Path) -> Path | None:
    """The folder holding config.yaml + weights: ``folder`` itself or its ``hunyuan3d-dit-v2-1``."""
    for candidate in (folder, folder / DIT_FOLDER):
        if (candidate / "config.yaml").is_file() and any((candidate / n).is_file() for n in WEIGHT_NAMES):
            return candidate
    return None


def weights_path(folder: Path) -> Path:
    return next(folder / n for n in WEIGHT_NAMES if (folder / n).is_file())


def read_config(path: Path) -> dict:
    import yaml

    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise OpError(f"{path}: cannot read the config ({exc})") from None
    if not isinstance(config, dict):
        raise OpError(f"{path}: the config is not a mapping")
    for section in ("model", "vae", "conditioner"):
        if not isinstance(config.get(section), dict) or not isinstance(config[section].get("params", {}), dict):
            raise OpError(f"{path}: section {section!r} (target + params) is missing")
    target = str(config["model"].get("target", ""))
    if not target.endswith("HunYuanDiTPlain"):
        raise OpError(f"{path}: model.target is {target!r}; only HunYuanDiTPlain (Hunyuan3D-2.1) is supported "
                      "(Hunyuan3D-2.0 / 2mini use a different DiT)")
    scheduler = str((config.get("scheduler") or {}).get("target", "FlowMatchEulerDiscreteScheduler"))
    if not scheduler.endswith("FlowMatchEulerDiscreteScheduler"):
        raise OpError(f"{path}: scheduler.target is {scheduler!r}; only FlowMatchEulerDiscreteScheduler is supported")
    return config


def encoder_settings(config: dict, path: Path) -> dict:
    """DinoImageEncoder kwargs: ``config`` (a Dinov2Config dict), ``image_size``, ``use_cls_token``."""
    main = (config["conditioner"].get("params") or {}).get("main_image_encoder") or {}
    if main.get("type") != "DinoImageEncoder" or not isinstance((main.get("kwargs") or {}).get("config"), dict):
        raise OpError(f"{path}: conditioner.params.main_image_encoder must be a DinoImageEncoder with a config")
    kwargs = main["kwargs"]
    return {"config": kwargs["config"], "image_size": int(kwargs.get("image_size", 224)),
            "use_cls_token": bool(kwargs.get("use_cls_token", True))}


class WeightFile:
    """The tensors of one Hunyuan3D weight file, grouped as ``{'model': {...}, 'vae': {...}, ...}``."""

    def __init__(self, path: Path):
        self.path = path
        self.is_safetensors = path.suffix == ".safetensors"

    def shapes(self) -> dict[str, dict[str, tuple[int, ...]]]:
        if self.is_safetensors:
            return self._group({k: s for k, s in weights.safetensors_shapes(self.path).items()})
        return {part: {k: tuple(t.shape) for k, t in tensors.items()} for part, tensors in self.read().items()}

    def read(self, part: str | None = None) -> dict[str, dict[str, torch.Tensor]]:
        if self.is_safetensors:
            names = [k for k in weights.safetensors_shapes(self.path) if part is None or k.startswith(part + ".")]
            return self._group(weights.read_safetensors(self.path, names))
        data = weights.read_ckpt(self.path)
        if not isinstance(data, dict):
            raise OpError(f"{self.path}: expected a dict of state dicts ({', '.join(PARTS)}), got {type(data).__name__}")
        extra = [k for k in data if k not in PARTS]
        if extra:
            raise OpError(f"{self.path}: unexpected entry {extra[0]!r} (expected {', '.join(PARTS)})")
        for key, value in data.items():
            if not isinstance(value, dict) or not all(isinstance(t, torch.Tensor) for t in value.values()):
                raise OpError(f"{self.path}: entry {key!r} is not a state dict of tensors")
        return {k: v for k, v in data.items() if part is None or k == part}

    def _group(self, flat: dict) -> dict:
        grouped: dict[str, dict] = {}
        for key, value in flat.items():
            head, _, rest = key.partition(".")
            if head not in PARTS or not rest:
                raise OpError(f"{self.path}: unexpected tensor {key} (names start with {', '.join(PARTS)})")
            grouped.setdefault(head, {})[rest] = value
        return grouped


class Hunyuan3DModel(PublishedShapeModel):
    """A loaded Hunyuan3D-2.1 shape model: ``dit``, ``vae`` (decoder), lazy DINOv2 conditioner."""

    family = "hunyuan3d-2.1"
    DEFAULTS = {"steps": 50, "guidance": 5.0, "seed": 0, "bounds": 1.01, "level": 0.0, "resolution": 384,
                "face_budget": 20000, "query_chunk": 32768}

    def __init__(self, folder: Path, config: dict, dit: HunYuanDiTPlain, vae: HunyuanShapeVAE, device: str,
                 dtype: torch.dtype, name: str | None = None):
        super().__init__(name or folder.name, device, dtype)
        self.folder = folder
        self.raw_config = config
        self.dit = dit
        self.vae = vae
        self.shift = float(((config.get("scheduler") or {}).get("params") or {}).get("shift", 1.0))

    # ---------------------------------------------------------------- loading
    @classmethod
    def describe_folder(cls, folder: Path) -> dict:
        """Config, weight file, meta-built modules and parameter count; reads no tensor data."""
        root = dit_folder(folder)
        if root is None:
            raise OpError(f"{folder}: no Hunyuan3D-2.1 layout ({DIT_FOLDER}/config.yaml + one of "
                          f"{', '.join(WEIGHT_NAMES)})")
        config_path = root / "config.yaml"
        config = read_config(config_path)
        try:
            dit_config = HunyuanDiTConfig.from_params(config["model"].get("params") or {})
            vae_config = HunyuanVAEConfig.from_params(config["vae"].get("params") or {})
        except (TypeError, ValueError) as exc:
            raise OpError(f"{config_path}: {exc}") from None
        dit = weights.build_on_meta(lambda: HunYuanDiTPlain(dit_config), config_path)
        vae = weights.build_on_meta(lambda: HunyuanShapeVAE(vae_config), config_path)
        layout = weights.build_on_meta(lambda: EncoderLayout(vae_config), config_path)
        return {"root": root, "config_path": config_path, "config": config, "dit": dit, "vae": vae,
                "encoder_layout": layout, "file": WeightFile(weights_path(root)), "dit_config": dit_config,
                "vae_config": vae_config}

    @classmethod
    def check_file(cls, info: dict) -> dict[str, dict[str, tuple[int, ...]]]:
        """Names and shapes of the weight file checked against the config; returns the shapes."""
        file, config_path = info["file"], info["config_path"]
        shapes = file.shapes()
        for part in ("model", "vae"):
            if part not in shapes:
                raise OpError(f"{file.path}: no {part!r} tensors")
        weights.check_tensors(shapes["model"], weights.expected_shapes(info["dit"]), file=file.path,
                              config=config_path, prefix="model")
        vae_expected = {**weights.expected_shapes(info["vae"]), **weights.expected_shapes(info["encoder_layout"])}
        weights.check_tensors(shapes["vae"], vae_expected, file=file.path, config=config_path, prefix="vae",
                              optional=("encoder.", "pre_kl."))
        return shapes

    @classmethod
    def estimate(cls, info: dict, shapes: dict, dtype: torch.dtype) -> memory.MemoryEstimate:
        used = ("model", "conditioner")
        count = sum(torch.Size(s).numel() for part in used for s in shapes.get(part, {}).values())
        count += sum(p.numel() for p in info["vae"].parameters())
        return memory.estimate(count, dtype, tokens=info["vae_config"].num_latents,
                               width=info["dit_config"].hidden_size, decoder_width=info["vae_config"].width,
                               query_chunk=cls.DEFAULTS["query_chunk"])

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu", dtype: torch.dtype | None = None,
             name: str | None = None) -> "Hunyuan3DModel":
        folder = Path(folder)
        dtype = memory.pick_dtype(device, dtype)
        info = cls.describe_folder(folder)
        shapes = cls.check_file(info)
        memory.ensure_fits(name or folder.name, cls.estimate(info, shapes, dtype), device)
        dit = weights.assign_module(info["dit"], info["file"].read("model")["model"], device, dtype)
        decoder_names = set(weights.expected_shapes(info["vae"]))
        vae_tensors = info["file"].read("vae")["vae"]
        vae = weights.assign_module(info["vae"], {k: v for k, v in vae_tensors.items() if k in decoder_names},
                                    device, dtype)
        return cls(info["root"], info["config"], dit, vae, device, dtype, name or folder.name)

    # ---------------------------------------------------------------- the contract
    def decoder_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae(latents)

    def query_sdf(self, tokens: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        return self.vae.query(tokens, queries)

    @torch.no_grad()
    def velocity(self, x: torch.Tensor, t, cond: torch.Tensor) -> torch.Tensor:
        """HunYuanDiTPlain's output for latents ``x`` (B,K,C), flow time ``t`` in [0, 1], ``contexts['main']``.

        ``cond`` is the (B,L,C) token tensor, or their ``contexts`` dict holding it under 'main'.
        """
        if isinstance(cond, dict):
            cond = cond["main"]
        x = x.to(self.device, self.dtype)
        t = torch.as_tensor(t, device=self.device).reshape(-1).expand(x.shape[0]).to(self.dtype)
        return self.dit(x, t, cond.to(self.device, self.dtype))

    # ---------------------------------------------------------------- image conditioning
    def _load_encoder(self):
        from transformers import Dinov2Config, Dinov2Model

        config_path = self.folder / "config.yaml"
        settings = encoder_settings(self.raw_config, config_path)
        file = WeightFile(weights_path(self.folder))
        tensors = file.read("conditioner").get("conditioner")
        if not tensors:
            raise OpError(f"{file.path}: no conditioner (DINOv2) tensors, so this checkpoint cannot read images")
        try:
            dino_config = Dinov2Config(**settings["config"])
        except (TypeError, ValueError) as exc:
            raise OpError(f"{config_path}: conditioner config: {exc}") from None
        model = weights.build_on_meta(lambda: Dinov2Model(dino_config), config_path)
        expected = {ENCODER_PREFIX + k: s for k, s in weights.expected_shapes(model).items()}
        weights.check_tensors({k: tuple(v.shape) for k, v in tensors.items()}, expected, file=file.path,
                              config=config_path, prefix="conditioner")
        state = {k[len(ENCODER_PREFIX):]: v for k, v in tensors.items()}
        model = weights.assign_module(model, state, self.device, self.dtype)
        if int(dino_config.hidden_size) != self.dit.config.context_dim:
            raise OpError(f"{config_path}: the conditioner's hidden_size {dino_config.hidden_size} differs from "
                          f"model.params.context_dim {self.dit.config.context_dim}")
        return model, settings

    @torch.no_grad()
    def encode_image(self, image) -> tuple[torch.Tensor, torch.Tensor]:
        model, settings = self.image_encoder()
        pixels = hunyuan_pixels(image, settings["image_size"]).to(self.device, self.dtype)
        states = model(pixel_values=pixels).last_hidden_state
        if not settings["use_cls_token"]:
            states = states[:, 1:]
        return states, torch.zeros_like(states)

    # ---------------------------------------------------------------- sampling
    def sample_latents(self, cond, uncond, settings: dict, progress=None, cancel=None) -> torch.Tensor:
        schedule = sampling.hunyuan_schedule(int(settings["steps"]), self.shift)
        guidance = float(settings["guidance"])
        latents = sampling.sample(self.velocity, (1, *self.vae.latent_shape), cond, uncond, schedule,
                                  guidance=guidance, guided=guidance >= 0, uncond_first=False,
                                  seed=int(settings["seed"]), device=self.device, dtype=self.dtype,
                                  progress=progress, cancel=cancel)
        return latents / self.vae.config.scale_factor
