"""Transformer building blocks shared by the shape VAE and the flow transformer.

Module and parameter names mirror TripoSG's released code (itself diffusers-style, after
HunyuanDiT), so its safetensors load by name: ``attn1``/``attn2``/``attn2_2`` with ``to_q``,
``to_k``, ``to_v``, ``to_out.0``, optional ``norm_q``/``norm_k`` (RMS QK-norm) and ``norm_cross``;
``norm1``/``norm2``/``norm2_2``/``norm3`` (float32 LayerNorm); ``ff.net.0.proj`` and ``ff.net.2``;
``skip_linear``/``skip_norm`` for U-ViT long skips.

One layout detail matters for loading those weights: the released models split heads *before*
splitting q/k/v. For self-attention the concatenation ``[q | k | v]`` is viewed as
``(heads, 3 * head_dim)`` and each head takes its q, k and v from its own slice; for
cross-attention the same holds for ``[k | v]`` while q is split the usual way.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FP32LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the input dtype (stable under half precision)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.float() if self.weight is not None else None
        bias = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps).to(x.dtype)


class Attention(nn.Module):
    """Multi-head attention with TripoSG's fused head layout, optional RMS QK-norm and context norm."""

    def __init__(self, query_dim: int, heads: int, cross_attention_dim: int | None = None,
                 qk_norm: bool = False, cross_attention_norm: bool = False, bias: bool = False):
        super().__init__()
        if query_dim % heads:
            raise ValueError(f"width {query_dim} is not divisible by {heads} heads")
        self.heads = heads
        self.head_dim = query_dim // heads
        self.is_cross_attention = cross_attention_dim is not None
        context_dim = cross_attention_dim or query_dim
        self.to_q = nn.Linear(query_dim, query_dim, bias=bias)
        self.to_k = nn.Linear(context_dim, query_dim, bias=bias)
        self.to_v = nn.Linear(context_dim, query_dim, bias=bias)
        self.norm_q = nn.RMSNorm(self.head_dim, eps=1e-6) if qk_norm else None
        self.norm_k = nn.RMSNorm(self.head_dim, eps=1e-6) if qk_norm else None
        self.norm_cross = nn.LayerNorm(context_dim) if cross_attention_norm else None
        self.to_out = nn.ModuleList([nn.Linear(query_dim, query_dim, bias=True)])

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B,L,D); ``context`` (B,S,Dc) for cross-attention; ``context_mask`` (B,S) bool, True = attend."""
        batch, length, _ = x.shape
        heads, dim = self.heads, self.head_dim
        query = self.to_q(x)
        if context is None:
            context = x
        elif self.norm_cross is not None:
            context = self.norm_cross(context)
        key, value = self.to_k(context), self.to_v(context)
        if not self.is_cross_attention:
            fused = torch.cat([query, key, value], dim=-1).view(batch, -1, heads, 3 * dim)
            query, key, value = fused.split(dim, dim=-1)
        else:
            fused = torch.cat([key, value], dim=-1).view(batch, -1, heads, 2 * dim)
            key, value = fused.split(dim, dim=-1)
            query = query.view(batch, length, heads, dim)
        query, key, value = (t.transpose(1, 2) for t in (query, key, value))
        if self.norm_q is not None:
            query, key = self.norm_q(query), self.norm_k(key)
        mask = None
        if context_mask is not None:
            mask = context_mask.to(torch.bool)
            mask = mask | ~mask.any(dim=-1, keepdim=True)  # a fully masked row attends to all (zeros)
            mask = mask[:, None, None, :]
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
        out = out.transpose(1, 2).reshape(batch, length, heads * dim).to(x.dtype)
        return self.to_out[0](out)


class GELUProjection(nn.Module):
    """``gelu(proj(x))``: the first layer of the feed-forward (diffusers' ``GELU``)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x))


class FeedForward(nn.Module):
    """Two-layer GELU MLP with parameter names ``net.0.proj`` and ``net.2``."""

    def __init__(self, dim: int, inner_dim: int | None = None):
        super().__init__()
        inner_dim = inner_dim or 4 * dim
        self.net = nn.ModuleList([GELUProjection(dim, inner_dim), nn.Dropout(0.0), nn.Linear(inner_dim, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            x = layer(x)
        return x


class DiTBlock(nn.Module):
    """Pre-norm block: [long skip] -> self-attention -> cross-attention(s) -> feed-forward.

    The long skip follows the released TripoSG transformer: ``skip_norm(skip_linear([skip, x]))``.
    With two conditions (``use_cross_attention_2``) both cross-attentions read the same
    normalised state and their outputs are summed.
    """

    def __init__(self, dim: int, num_attention_heads: int, *, use_self_attention: bool = True,
                 use_cross_attention: bool = False, cross_attention_dim: int | None = None,
                 cross_attention_norm: bool = False, use_cross_attention_2: bool = False,
                 cross_attention_2_dim: int | None = None, ff_inner_dim: int | None = None,
                 skip: bool = False, qk_norm: bool = False, qkv_bias: bool = False):
        super().__init__()
        self.use_self_attention = use_self_attention
        self.use_cross_attention = use_cross_attention
        self.use_cross_attention_2 = use_cross_attention_2
        if use_self_attention:
            self.norm1 = FP32LayerNorm(dim, eps=1e-5)
            self.attn1 = Attention(dim, num_attention_heads, qk_norm=qk_norm, bias=qkv_bias)
        if use_cross_attention:
            self.norm2 = FP32LayerNorm(dim, eps=1e-5)
            self.attn2 = Attention(dim, num_attention_heads, cross_attention_dim=cross_attention_dim,
                                   qk_norm=qk_norm, cross_attention_norm=cross_attention_norm, bias=qkv_bias)
        if use_cross_attention_2:
            self.norm2_2 = FP32LayerNorm(dim, eps=1e-5)
            self.attn2_2 = Attention(dim, num_attention_heads, cross_attention_dim=cross_attention_2_dim,
                                     qk_norm=qk_norm, bias=qkv_bias)
        self.norm3 = FP32LayerNorm(dim, eps=1e-5)
        self.ff = FeedForward(dim, ff_inner_dim)
        if skip:
            self.skip_norm = FP32LayerNorm(dim, eps=1e-5)
            self.skip_linear = nn.Linear(2 * dim, dim)
        else:
            self.skip_linear = None

    def forward(self, x: torch.Tensor, context=None, context_mask=None, context_2=None,
                context_2_mask=None, skip: torch.Tensor | None = None) -> torch.Tensor:
        if self.skip_linear is not None:
            x = self.skip_norm(self.skip_linear(torch.cat([skip, x], dim=-1)))
        if self.use_self_attention:
            x = x + self.attn1(self.norm1(x))
        if self.use_cross_attention:
            update = self.attn2(self.norm2(x), context, context_mask)
            if self.use_cross_attention_2:
                update = update + self.attn2_2(self.norm2_2(x), context_2, context_2_mask)
            x = x + update
        return x + self.ff(self.norm3(x))
