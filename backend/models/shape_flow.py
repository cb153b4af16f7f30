"""Rectified-flow transformer over VAE latent tokens, and its Euler sampler with CFG.

The network mirrors the released ``TripoSGDiTModel``: a sinusoidal time embedding through
``time_proj.linear_1/linear_2`` becomes an extra *token* prepended to the latents (``proj_in``),
``num_layers`` DiT blocks with self-attention, cross-attention to condition tokens and RMS
QK-norm, U-ViT long skips from the first half to the second, ``norm_out`` and ``proj_out``.
An optional second cross-attention (``attn2_2``) reads a second condition (image tokens when the
first is text). Sizes come from :class:`FlowConfig` (TripoSG's ``transformer/config.json`` names).

Flow convention (diffusers' FlowMatchEuler): ``x_s = (1 - s) x_0 + s * noise`` for s in [0, 1],
the model sees timestep ``1000 s`` and predicts the velocity ``noise - x_0``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, asdict
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .attention_blocks import DiTBlock


@dataclass
class FlowConfig:
    """Sizes of the transformer; field names are TripoSG's ``transformer/config.json`` ones."""

    num_attention_heads: int = 16
    width: int = 2048
    in_channels: int = 64
    num_layers: int = 21
    cross_attention_dim: int = 1024
    use_cross_attention_2: bool = False
    cross_attention_2_dim: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "FlowConfig":
        """Build from a config dict, ignoring keys this implementation does not use."""
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in data.items() if k in known})
        if config.use_cross_attention_2 and not config.cross_attention_2_dim:
            raise ValueError("use_cross_attention_2 needs cross_attention_2_dim")
        return config

    def to_dict(self) -> dict:
        return asdict(self)


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[sin, cos]`` of (B,) timesteps in [0, 1000] (diffusers ``Timesteps``)."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    angles = timesteps.float()[:, None] * exponent.exp()[None]
    emb = torch.cat([angles.sin(), angles.cos()], dim=-1)
    return nn.functional.pad(emb, (0, 1)) if dim % 2 else emb


class TimestepMLP(nn.Module):
    """``linear_1`` -> GELU -> ``linear_2`` (diffusers ``TimestepEmbedding``)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, hidden_dim)
        self.linear_2 = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(nn.functional.gelu(self.linear_1(x)))


class ShapeFlowTransformer(nn.Module):
    """Predicts the flow velocity of latent tokens (B,K,C) given time and condition tokens."""

    def __init__(self, config: FlowConfig):
        super().__init__()
        self.config = config
        width = config.width
        self.time_proj = TimestepMLP(width, 4 * width, width)
        self.proj_in = nn.Linear(config.in_channels, width, bias=True)
        half = config.num_layers // 2
        self.blocks = nn.ModuleList([
            DiTBlock(width, config.num_attention_heads, use_cross_attention=True,
                     cross_attention_dim=config.cross_attention_dim,
                     use_cross_attention_2=config.use_cross_attention_2,
                     cross_attention_2_dim=config.cross_attention_2_dim,
                     ff_inner_dim=4 * width, skip=layer > half, qk_norm=True, qkv_bias=False)
            for layer in range(config.num_layers)])
        self.norm_out = nn.LayerNorm(width)
        self.proj_out = nn.Linear(width, config.in_channels, bias=True)

    def forward(self, latents: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor,
                context_mask: torch.Tensor | None = None, context_2: torch.Tensor | None = None,
                context_2_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity (B,K,C) for ``latents`` (B,K,C) at ``timestep`` (B,) in [0, 1000]."""
        if self.config.use_cross_attention_2 and context_2 is None:
            raise ValueError("this transformer reads two conditions; context_2 is missing")
        count = latents.shape[1]
        time_token = self.time_proj(timestep_embedding(timestep, self.config.width).to(latents.dtype))
        x = torch.cat([time_token[:, None], self.proj_in(latents)], dim=1)
        half = self.config.num_layers // 2
        skips = []
        for layer, block in enumerate(self.blocks):
            skip = skips.pop() if layer > half else None
            x = block(x, context, context_mask, context_2, context_2_mask, skip=skip)
            if layer < half:
                skips.append(x)
        return self.proj_out(self.norm_out(x)[:, -count:])


def flow_sigmas(steps: int, shift: float = 1.0) -> torch.Tensor:
    """Noise levels from 1 to 0 (``steps + 1`` values), optionally shifted towards noise."""
    sigmas = torch.linspace(1.0, 0.0, steps + 1)
    return shift * sigmas / (1.0 + (shift - 1.0) * sigmas)


@torch.no_grad()
def sample_latents(model: ShapeFlowTransformer, condition: dict, uncondition: dict, *, num_tokens: int,
                   steps: int = 25, guidance: float = 5.0, seed: int | Sequence[int] = 0, shift: float = 1.0,
                   progress=None, cancel=None) -> torch.Tensor:
    """Euler-integrate the flow from seeded noise to latents (B,K,C) with classifier-free guidance.

    ``seed``: one seed (B = 1) or a list, one shape per seed sampled in one batch (the noise of a
    seed is the same either way). ``condition``/``uncondition`` hold the keyword tensors of
    :meth:`ShapeFlowTransformer.forward` (``context``, ``context_mask``, ...), batch 1, shared by
    the batch. ``guidance`` <= 1 skips the unconditional pass.
    ``progress(fraction, stage, message)`` is called and ``cancel.check()`` run at every step.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    seeds = [int(seed)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
    latents = torch.cat([torch.randn((1, num_tokens, model.config.in_channels),
                                     generator=torch.Generator(device="cpu").manual_seed(s)) for s in seeds])
    latents = latents.to(device, dtype)
    guided = guidance > 1.0
    condition, uncondition = _repeat(condition, len(seeds)), _repeat(uncondition, len(seeds))
    inputs = _stack_conditions(condition, uncondition) if guided else condition
    inputs = {k: v.to(device) if v is not None else None for k, v in inputs.items()}
    sigmas = flow_sigmas(steps, shift)
    for i in range(steps):
        if cancel is not None:
            cancel.check()
        batch = torch.cat([latents, latents]) if guided else latents
        timestep = torch.full((batch.shape[0],), float(sigmas[i]) * 1000.0, device=device)
        velocity = model(batch, timestep, **inputs)
        if guided:
            cond_v, uncond_v = velocity.chunk(2)
            velocity = uncond_v + guidance * (cond_v - uncond_v)
        latents = latents + (float(sigmas[i + 1]) - float(sigmas[i])) * velocity
        if progress is not None:
            progress((i + 1) / steps, "sample", f"step {i + 1}/{steps}")
    return latents


def _repeat(condition: dict, count: int) -> dict:
    """A batch-1 condition repeated ``count`` times along the batch."""
    if count == 1:
        return condition
    return {k: None if v is None else torch.cat([v] * count) for k, v in condition.items()}


def _stack_conditions(condition: dict, uncondition: dict) -> dict:
    stacked = {}
    for key, value in condition.items():
        other = uncondition.get(key)
        stacked[key] = None if value is None else torch.cat([value, other.to(value.dtype)])
    return stacked
