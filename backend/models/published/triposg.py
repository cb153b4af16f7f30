"""TripoSG (VAST-AI-Research, MIT licence) from its published folder, in plain PyTorch.

Layout (``VAST-AI/TripoSG``): ``vae/`` and ``transformer/`` (diffusers-style ``config.json`` +
``diffusion_pytorch_model.safetensors``), ``scheduler/scheduler_config.json``
(``RectifiedFlowScheduler``: ``shift``, ``num_train_timesteps``), ``image_encoder_dinov2/``
(a transformers ``Dinov2Model``) and ``feature_extractor_dinov2/`` (its ``BitImageProcessor``).

Modules: :class:`~backend.models.shape_vae.ShapeVAE` and
:class:`~backend.models.shape_flow.ShapeFlowTransformer` carry TripoSGVAEModel's and
TripoSGDiTModel's parameter names, so the published tensors load by name.

Conventions, from TripoSG's code:
- the VAE decoder returns ``-proj_out(...)`` and its extraction treats ``> 0`` as occupied, so
  ``proj_out`` itself is negative inside: ``sdf_sign = +1``; no latent scale factor;
- the DiT takes ``t = 1000 sigma`` and ``encoder_hidden_states`` = DINOv2's last hidden state
  (CFG: zeros, batched first); sampling per :func:`~.sampling.triposg_schedule`;
- pipeline defaults: 50 steps, guidance 7.0, 2048 tokens, bounds +-1.005, marching cubes at 0,
  octree depth 9 (512 cells); the mesh is Y-up.
The image encoder is loaded at the first image, so a folder without it still decodes shapes.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from backend.runtime import OpError

from ..shape_flow import FlowConfig, ShapeFlowTransformer
from ..shape_vae import ShapeVAE, VAEConfig
from . import memory, sampling, weights
from .base import PublishedShapeModel
from .images import IMAGENET_MEAN, IMAGENET_STD, triposg_pixels

log = logging.getLogger(__name__)

LICENSE = "MIT (TripoSG by VAST-AI-Research); DINOv2: Apache-2.0"
SCHEDULER = "RectifiedFlowScheduler"


def is_triposg_folder(folder: Path) -> bool:
    return all((folder / part / "config.json").is_file() for part in ("vae", "transformer"))


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise OpError(f"{path}: cannot read the config ({exc})") from None
    if not isinstance(data, dict):
        raise OpError(f"{path}: the config is not a JSON object")
    return data


def weights_file(part: Path) -> Path:
    files = sorted(part.glob("*.safetensors"))
    if not files:
        raise OpError(f"{part}: no .safetensors weights (expected diffusion_pytorch_model.safetensors)")
    if len(files) > 1:
        preferred = part / "diffusion_pytorch_model.safetensors"
        if preferred in files:
            return preferred
        raise OpError(f"{part}: {len(files)} .safetensors files, cannot tell which one to load")
    return files[0]


def _scheduler(folder: Path) -> dict:
    """shift / num_train_timesteps of the folder's RectifiedFlowScheduler (class defaults when absent)."""
    path = folder / "scheduler" / "scheduler_config.json"
    config = _read_json(path) if path.is_file() else {}
    name = config.get("_class_name", SCHEDULER)
    if name != SCHEDULER:
        raise OpError(f"{path}: _class_name is {name!r}; TripoSG's weights are sampled with {SCHEDULER}")
    if config.get("use_dynamic_shifting"):
        raise OpError(f"{path}: use_dynamic_shifting is not supported (TripoSG ships it off)")
    return {"shift": float(config.get("shift", 1.0)),
            "num_train_timesteps": int(config.get("num_train_timesteps", 1000))}


class TripoSGModel(PublishedShapeModel):
    """A loaded TripoSG folder: ``vae``, ``transformer``, lazy DINOv2 image encoder."""

    family = "triposg"
    DEFAULTS = {"steps": 50, "guidance": 7.0, "seed": 0, "num_tokens": 2048, "bounds": 1.005, "level": 0.0,
                "resolution": 512, "face_budget": 20000, "query_chunk": 32768}

    def __init__(self, folder: Path, vae: ShapeVAE, transformer: ShapeFlowTransformer, scheduler: dict,
                 device: str, dtype: torch.dtype, name: str | None = None):
        super().__init__(name or folder.name, device, dtype)
        self.folder = folder
        self.vae = vae
        self.transformer = transformer
        self.scheduler = scheduler
        # what backend.models.shape_reconstruct reads: frame and iso-level of this VAE
        self.config = {"format": "triposg", "up_axis": "y", "sampler": {"level": 0.0, "bounds": 1.005}}

    # ---------------------------------------------------------------- loading
    @classmethod
    def describe_folder(cls, folder: Path) -> dict:
        """Configs, weight files and parameter count, read without loading any weights."""
        vae_path, flow_path = folder / "vae" / "config.json", folder / "transformer" / "config.json"
        try:
            vae_config = VAEConfig.from_dict({**_read_json(vae_path), "sdf_sign": 1.0})
        except (TypeError, ValueError) as exc:
            raise OpError(f"{vae_path}: {exc}") from None
        try:
            flow_config = FlowConfig.from_dict(_read_json(flow_path))
        except (TypeError, ValueError) as exc:
            raise OpError(f"{flow_path}: {exc}") from None
        vae = weights.build_on_meta(lambda: ShapeVAE(vae_config), vae_path)
        flow = weights.build_on_meta(lambda: ShapeFlowTransformer(flow_config), flow_path)
        count = sum(p.numel() for m in (vae, flow) for p in m.parameters())
        dino = folder / "image_encoder_dinov2"
        for path in sorted(dino.glob("*.safetensors")):
            count += sum(int(torch.Size(s).numel()) for s in weights.safetensors_shapes(path).values())
        return {"vae": vae, "transformer": flow, "parameters": count, "vae_config": vae_config,
                "flow_config": flow_config}

    @classmethod
    def estimate(cls, folder: Path, dtype: torch.dtype, info: dict | None = None) -> memory.MemoryEstimate:
        info = info or cls.describe_folder(folder)
        return memory.estimate(info["parameters"], dtype, tokens=cls.DEFAULTS["num_tokens"],
                               width=info["flow_config"].width, decoder_width=info["vae_config"].width_decoder,
                               query_chunk=cls.DEFAULTS["query_chunk"])

    @classmethod
    def check_files(cls, folder: Path, info: dict) -> dict[str, Path]:
        """The vae/transformer weight files, their names and shapes checked against the configs."""
        files = {}
        for part in ("vae", "transformer"):
            file = weights_file(folder / part)
            weights.check_tensors(weights.safetensors_shapes(file), weights.expected_shapes(info[part]),
                                  file=file, config=folder / part / "config.json")
            files[part] = file
        return files

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu", dtype: torch.dtype | None = None,
             name: str | None = None) -> "TripoSGModel":
        folder = Path(folder)
        dtype = memory.pick_dtype(device, dtype)
        scheduler = _scheduler(folder)
        info = cls.describe_folder(folder)
        memory.ensure_fits(name or folder.name, cls.estimate(folder, dtype, info), device)
        parts = cls.check_files(folder, info)
        loaded = {part: weights.assign_module(module, weights.read_safetensors(parts[part]), device, dtype)
                  for part, module in (("vae", info["vae"]), ("transformer", info["transformer"]))}
        return cls(folder, loaded["vae"], loaded["transformer"], scheduler, device, dtype, name)

    # ---------------------------------------------------------------- the contract
    def decoder_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode_tokens(latents)

    def query_sdf(self, tokens: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        return self.vae.query(tokens, queries)

    @torch.no_grad()
    def velocity(self, x: torch.Tensor, t, cond) -> torch.Tensor:
        """TripoSGDiTModel's output for latents ``x`` (B,K,C), ``t`` = 1000 sigma, DINOv2 tokens ``cond``.

        ``cond`` is ``encoder_hidden_states`` (B,L,C), or a pair (states, states_2) for a DiT
        built with ``use_cross_attention_2`` (also accepted as their keyword names in a dict).
        """
        if isinstance(cond, dict):
            cond = (cond["encoder_hidden_states"], cond.get("encoder_hidden_states_2"))
        x = x.to(self.device, self.dtype)
        t = torch.as_tensor(t, dtype=torch.float32, device=self.device).reshape(-1).expand(x.shape[0])
        first, second = (cond if isinstance(cond, (tuple, list)) else (cond, None))
        second = second.to(self.device, self.dtype) if second is not None else None
        return self.transformer(x, t, first.to(self.device, self.dtype), context_2=second)

    # ---------------------------------------------------------------- image conditioning
    def _load_encoder(self):
        import transformers
        from transformers import BitImageProcessor, Dinov2Model

        path = self.folder / "image_encoder_dinov2"
        if not (path / "config.json").is_file():
            raise OpError(f"{path}: no DINOv2 image encoder (config.json + model.safetensors); "
                          "TripoSG needs it to read images")
        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()
        try:
            model, info = Dinov2Model.from_pretrained(str(path), local_files_only=True, output_loading_info=True)
            processor_dir = self.folder / "feature_extractor_dinov2"
            if (processor_dir / "preprocessor_config.json").is_file():
                processor = BitImageProcessor.from_pretrained(str(processor_dir), local_files_only=True)
            else:  # DINOv2's own preprocessing: shortest edge 256 -> crop 224, ImageNet statistics
                processor = BitImageProcessor(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                                              image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD))
        except OSError as exc:
            raise OpError(f"{path}: cannot load the DINOv2 encoder ({exc})") from None
        finally:
            transformers.logging.set_verbosity(verbosity)
        for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
            if info.get(kind):
                first = info[kind][0]
                raise OpError(f"{path}: {kind.replace('_', ' ')[:-1]} {first if isinstance(first, str) else first[0]}")
        hidden = int(model.config.hidden_size)
        if hidden != self.transformer.config.cross_attention_dim:
            raise OpError(f"{path}/config.json: hidden_size {hidden} but {self.folder}/transformer/config.json has "
                          f"cross_attention_dim {self.transformer.config.cross_attention_dim}")
        return model.eval().requires_grad_(False).to(self.device, self.dtype), processor

    @torch.no_grad()
    def encode_image(self, image) -> tuple[torch.Tensor, torch.Tensor]:
        """(DINOv2 last hidden state, zeros like it) for one image, as TripoSG's encode_image."""
        model, processor = self.image_encoder()
        pixels = triposg_pixels(image, processor).to(self.device, self.dtype)
        states = model(pixel_values=pixels).last_hidden_state
        return states, torch.zeros_like(states)

    # ---------------------------------------------------------------- sampling
    def sample_latents(self, cond, uncond, settings: dict, progress=None, cancel=None) -> torch.Tensor:
        if self.transformer.config.use_cross_attention_2:
            raise OpError(f"{self.name}: a DiT with a second condition (use_cross_attention_2) needs its own "
                          "pipeline (e.g. TripoSG-scribble); only the image pipeline is supported")
        schedule = sampling.triposg_schedule(int(settings["steps"]), self.scheduler["shift"],
                                             self.scheduler["num_train_timesteps"])
        shape = (1, int(settings["num_tokens"]), self.transformer.config.in_channels)
        guidance = float(settings["guidance"])
        return sampling.sample(self.velocity, shape, cond, uncond, schedule, guidance=guidance, guided=guidance > 1.0,
                               uncond_first=True, seed=int(settings["seed"]), device=self.device, dtype=self.dtype,
                               progress=progress, cancel=cancel)
