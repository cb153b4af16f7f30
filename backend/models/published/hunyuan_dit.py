"""Hunyuan3D-2.1's ``HunYuanDiTPlain`` (hy3dshape ``models/denoisers/hunyuandit.py``) in plain PyTorch.

Parameter names follow the published state dict (``ckpt['model']``): ``x_embedder``,
``t_embedder.mlp.{0,2}``, ``blocks.N.{norm1, attn1.{to_q,to_k,to_v,q_norm,k_norm,out_proj}, norm2,
attn2.{...}, norm3, mlp.{fc1,fc2} | moe.{gate.weight, experts.E.net.{0.proj,2},
shared_experts.net.{0.proj,2}}, skip_linear, skip_norm}``, ``final_layer.{norm_final, linear}``.

Forward, as theirs: the time embedding (sinusoidal over ``hidden_size`` channels of t in
[0, 1], then an MLP) is prepended to the latent tokens as one token; blocks with a U-ViT long
skip (``skip_norm(skip_linear([skip, x]))`` for layers > depth/2); the last ``num_moe_layers``
blocks use a top-k mixture of experts (softmax gate, weights not renormalised, plus a shared
expert); norms are LayerNorm(eps 1e-6) (``norm_type: layer``), QK-norm RMSNorm (``qk_norm_type:
rms``); heads split before q/k/v as in TripoSG. Options the 2.1 release leaves off
(``with_decoupled_ca``, ``use_attention_pooling``, ``guidance_cond_proj_dim``) are refused.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6


@dataclass
class HunyuanDiTConfig:
    """The ``model.params`` of config.yaml (HunYuanDiTPlain's keyword arguments and defaults)."""

    input_size: int = 1024
    in_channels: int = 4
    hidden_size: int = 1024
    context_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    norm_type: str = "layer"
    qk_norm_type: str = "rms"
    qk_norm: bool = False
    text_len: int = 257
    with_decoupled_ca: bool = False
    additional_cond_hidden_state: int = 768
    decoupled_ca_dim: int = 16
    decoupled_ca_weight: float = 1.0
    use_pos_emb: bool = False
    use_attention_pooling: bool = True
    guidance_cond_proj_dim: int | None = None
    qkv_bias: bool = True
    num_moe_layers: int = 6
    num_experts: int = 8
    moe_top_k: int = 2

    @classmethod
    def from_params(cls, params: dict) -> "HunyuanDiTConfig":
        """Their class takes ``**kwargs``, so keys it does not know are ignored here too."""
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in params.items() if k in known})
        for flag in ("with_decoupled_ca", "use_attention_pooling"):
            if getattr(config, flag):
                raise ValueError(f"model.params.{flag}: true is not supported (Hunyuan3D-2.1 ships it false)")
        if config.guidance_cond_proj_dim is not None:
            raise ValueError("model.params.guidance_cond_proj_dim is not supported (guidance-distilled models)")
        if config.norm_type not in ("layer", "rms") or config.qk_norm_type not in ("layer", "rms"):
            raise ValueError("norm_type and qk_norm_type must be 'layer' or 'rms'")
        if config.hidden_size % config.num_heads:
            raise ValueError(f"hidden_size {config.hidden_size} is not divisible by num_heads {config.num_heads}")
        return config


def _norm(kind: str, dim: int) -> nn.Module:
    return nn.LayerNorm(dim, eps=EPS) if kind == "layer" else nn.RMSNorm(dim, eps=EPS)


def timestep_features(t: torch.Tensor, channels: int, max_period: float = 10000.0) -> torch.Tensor:
    """Their ``Timesteps``: ``[sin, cos]`` of t times exp(-log(max_period) i / half), float32."""
    half = channels // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    angles = t.float()[:, None] * exponent.exp()[None]
    emb = torch.cat([angles.sin(), angles.cos()], dim=-1)
    return F.pad(emb, (0, 1)) if channels % 2 else emb


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.mlp = nn.Sequential(nn.Linear(hidden_size, hidden_size * 4), nn.GELU(),
                                 nn.Linear(hidden_size * 4, hidden_size))

    def forward(self, t):
        return self.mlp(timestep_features(t, self.hidden_size).to(self.mlp[0].weight.dtype))[:, None]


class Attention(nn.Module):
    """Self-attention (``context_dim`` None) or cross-attention with the fused-head layout."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool, qk_norm: bool, qk_norm_type: str,
                 context_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.cross = context_dim is not None
        kdim = context_dim or dim
        self.to_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.to_k = nn.Linear(kdim, dim, bias=qkv_bias)
        self.to_v = nn.Linear(kdim, dim, bias=qkv_bias)
        self.q_norm = _norm(qk_norm_type, dim // heads) if qk_norm else nn.Identity()
        self.k_norm = _norm(qk_norm_type, dim // heads) if qk_norm else nn.Identity()
        self.out_proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x, context=None):
        batch, count, dim = x.shape
        head_dim = dim // self.heads
        source = x if context is None else context
        q, k, v = self.to_q(x), self.to_k(source), self.to_v(source)
        if self.cross:
            q = q.view(batch, count, self.heads, head_dim)
            k, v = torch.cat([k, v], -1).view(batch, source.shape[1], self.heads, 2 * head_dim).split(head_dim, -1)
        else:
            q, k, v = torch.cat([q, k, v], -1).view(batch, count, self.heads, 3 * head_dim).split(head_dim, -1)
        q, k = self.q_norm(q), self.k_norm(k)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.out_proj(out.transpose(1, 2).reshape(batch, count, dim))


class MLP(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.fc1 = nn.Linear(width, width * 4)
        self.fc2 = nn.Linear(width * 4, width)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class GELUProj(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x):
        return F.gelu(self.proj(x))


class FeedForward(nn.Module):
    """diffusers' FeedForward(activation 'gelu'): ``net.0.proj`` -> GELU -> ``net.2``."""

    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.net = nn.ModuleList([GELUProj(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x):
        for layer in self.net:
            x = layer(x)
        return x


class Gate(nn.Module):
    def __init__(self, dim: int, num_experts: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_experts, dim))


class MoEBlock(nn.Module):
    """Top-k experts per token (softmax gate over experts, weights not renormalised) + a shared expert."""

    def __init__(self, dim: int, num_experts: int, top_k: int):
        super().__init__()
        self.top_k = top_k
        self.experts = nn.ModuleList([FeedForward(dim, dim * 4) for _ in range(num_experts)])
        self.gate = Gate(dim, num_experts)
        self.shared_experts = FeedForward(dim, dim * 4)

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        scores = F.linear(flat, self.gate.weight).softmax(dim=-1)
        weight, index = torch.topk(scores, k=self.top_k, dim=-1, sorted=False)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            rows, slot = torch.nonzero(index == e, as_tuple=True)
            if len(rows):
                out.index_add_(0, rows, (expert(flat[rows]) * weight[rows, slot, None]).to(out.dtype))
        return out.view_as(x) + self.shared_experts(x)


class DiTBlock(nn.Module):
    def __init__(self, config: HunyuanDiTConfig, skip: bool, moe: bool):
        super().__init__()
        dim, heads = config.hidden_size, config.num_heads
        self.norm1 = _norm(config.norm_type, dim)
        self.attn1 = Attention(dim, heads, config.qkv_bias, config.qk_norm, config.qk_norm_type)
        self.norm2 = _norm(config.norm_type, dim)
        self.attn2 = Attention(dim, heads, config.qkv_bias, config.qk_norm, config.qk_norm_type, config.context_dim)
        self.norm3 = _norm(config.norm_type, dim)
        if skip:
            self.skip_norm = _norm(config.norm_type, dim)
            self.skip_linear = nn.Linear(2 * dim, dim)
        if moe:
            self.moe = MoEBlock(dim, config.num_experts, config.moe_top_k)
        else:
            self.mlp = MLP(dim)

    def forward(self, x, context, skip=None):
        if skip is not None:
            x = self.skip_norm(self.skip_linear(torch.cat([skip, x], dim=-1)))
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        feed = self.moe if hasattr(self, "moe") else self.mlp
        return x + feed(self.norm3(x))


class FinalLayer(nn.Module):
    def __init__(self, dim: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(dim, eps=EPS)
        self.linear = nn.Linear(dim, out_channels)

    def forward(self, x):
        return self.linear(self.norm_final(x)[:, 1:])


class HunYuanDiTPlain(nn.Module):
    """Velocity of latents (B,K,C) at flow time t (B,) in [0, 1] given DINOv2 tokens (B,L,context_dim)."""

    def __init__(self, config: HunyuanDiTConfig):
        super().__init__()
        self.config = config
        self.x_embedder = nn.Linear(config.in_channels, config.hidden_size)
        self.t_embedder = TimestepEmbedder(config.hidden_size)
        if config.use_pos_emb:
            self.register_buffer("pos_embed", _sincos(config.input_size, config.hidden_size)[None])
        half = config.depth // 2
        self.blocks = nn.ModuleList([
            DiTBlock(config, skip=layer > half, moe=config.depth - layer <= config.num_moe_layers)
            for layer in range(config.depth)])
        self.final_layer = FinalLayer(config.hidden_size, config.in_channels)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        time_token = self.t_embedder(t)
        x = self.x_embedder(x)
        if self.config.use_pos_emb:
            x = x + self.pos_embed.to(x.dtype)
        x = torch.cat([time_token.to(x.dtype), x], dim=1)
        half = self.config.depth // 2
        skips = []
        for layer, block in enumerate(self.blocks):
            x = block(x, context, skips.pop() if layer > half else None)
            if layer < half:
                skips.append(x)
        return self.final_layer(x)


def _sincos(length: int, dim: int) -> torch.Tensor:
    """Their fixed 1-D sin-cos position table (``get_1d_sincos_pos_embed_from_grid``)."""
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.arange(length, dtype=np.float64)[:, None] * omega[None]
    return torch.from_numpy(np.concatenate([np.sin(out), np.cos(out)], axis=1)).float()
