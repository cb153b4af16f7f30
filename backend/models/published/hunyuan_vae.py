"""Hunyuan3D-2.1's ShapeVAE (hy3dshape ``models/autoencoders``), decoder side, in plain PyTorch.

Parameter names follow the published state dict (``ckpt['vae']``): ``post_kl``,
``transformer.resblocks.N.{ln_1, attn.c_qkv, attn.attention.q_norm, attn.c_proj, ln_2, mlp.c_fc,
mlp.c_proj}``, ``geo_decoder.{query_proj, cross_attn_decoder.{ln_1, ln_2, attn.c_q, attn.c_kv,
attn.attention.q_norm, attn.c_proj, ln_3, mlp}, ln_post, output_proj}``. Block norms are
LayerNorm(eps 1e-6); QK-norm (``qk_norm: true``) is LayerNorm(head_dim, eps 1e-6), not RMS;
``ln_post`` keeps LayerNorm's default eps. Heads are split before q/k/v: ``c_qkv`` output is viewed
as (heads, 3 * head_dim) and each head takes its q, k, v slices (``c_kv`` the same with 2).

The point encoder (``encoder.*``, ``pre_kl``) is described by :class:`EncoderLayout` so its
tensors can be checked by name and shape; Kiln never encodes with this VAE, so they are not kept.

Sign: ``geo_decoder`` returns occupancy logits, positive inside (their DMC extractor uses
``-logits`` as the SDF); :meth:`HunyuanShapeVAE.query` returns ``-logits``. Latents reach the
decoder after the pipeline divides them by ``scale_factor``.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from backend.models.shape_vae import FrequencyEmbedding

EPS = 1e-6


@dataclass
class HunyuanVAEConfig:
    """The ``vae.params`` of Hunyuan3D-2.1's config.yaml (ShapeVAE's keyword arguments and defaults)."""

    num_latents: int
    embed_dim: int
    width: int
    heads: int
    num_decoder_layers: int
    num_encoder_layers: int = 8
    pc_size: int = 5120
    pc_sharpedge_size: int = 5120
    point_feats: int = 3
    downsample_ratio: int = 20
    geo_decoder_downsample_ratio: int = 1
    geo_decoder_mlp_expand_ratio: int = 4
    geo_decoder_ln_post: bool = True
    num_freqs: int = 8
    include_pi: bool = True
    qkv_bias: bool = True
    qk_norm: bool = False
    label_type: str = "binary"
    drop_path_rate: float = 0.0
    scale_factor: float = 1.0
    use_ln_post: bool = True
    ckpt_path: str | None = None

    @classmethod
    def from_params(cls, params: dict) -> "HunyuanVAEConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} in vae.params")
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in params]
        if missing:
            raise ValueError(f"vae.params needs {missing[0]!r}")
        return cls(**params)


class MLP(nn.Module):
    def __init__(self, width: int, expand_ratio: int = 4):
        super().__init__()
        self.c_fc = nn.Linear(width, width * expand_ratio)
        self.c_proj = nn.Linear(width * expand_ratio, width)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class QKNorm(nn.Module):
    """Holds ``q_norm``/``k_norm`` (LayerNorm over head_dim) as the publisher's ``attention`` child."""

    def __init__(self, width: int, heads: int, qk_norm: bool):
        super().__init__()
        self.q_norm = nn.LayerNorm(width // heads, eps=EPS) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(width // heads, eps=EPS) if qk_norm else nn.Identity()


def _attend(q, k, v, norms: QKNorm):
    q, k = norms.q_norm(q), norms.k_norm(k)
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2).flatten(2)


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool):
        super().__init__()
        self.heads = heads
        self.c_qkv = nn.Linear(width, width * 3, bias=qkv_bias)
        self.c_proj = nn.Linear(width, width)
        self.attention = QKNorm(width, heads, qk_norm)

    def forward(self, x):
        batch, count, width = x.shape
        q, k, v = self.c_qkv(x).view(batch, count, self.heads, -1).split(width // self.heads, dim=-1)
        return self.c_proj(_attend(q, k, v, self.attention))


class CrossAttention(nn.Module):
    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool, data_width: int | None = None):
        super().__init__()
        self.heads = heads
        self.c_q = nn.Linear(width, width, bias=qkv_bias)
        self.c_kv = nn.Linear(data_width or width, width * 2, bias=qkv_bias)
        self.c_proj = nn.Linear(width, width)
        self.attention = QKNorm(width, heads, qk_norm)

    def forward(self, x, data):
        batch, count, width = x.shape
        q = self.c_q(x).view(batch, count, self.heads, -1)
        k, v = self.c_kv(data).view(batch, data.shape[1], self.heads, -1).split(width // self.heads, dim=-1)
        return self.c_proj(_attend(q, k, v, self.attention))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool):
        super().__init__()
        self.attn = SelfAttention(width, heads, qkv_bias, qk_norm)
        self.ln_1 = nn.LayerNorm(width, eps=EPS)
        self.mlp = MLP(width)
        self.ln_2 = nn.LayerNorm(width, eps=EPS)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ResidualCrossAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool, mlp_expand_ratio: int = 4):
        super().__init__()
        self.attn = CrossAttention(width, heads, qkv_bias, qk_norm)
        self.ln_1 = nn.LayerNorm(width, eps=EPS)
        self.ln_2 = nn.LayerNorm(width, eps=EPS)
        self.ln_3 = nn.LayerNorm(width, eps=EPS)
        self.mlp = MLP(width, mlp_expand_ratio)

    def forward(self, x, data):
        x = x + self.attn(self.ln_1(x), self.ln_2(data))
        return x + self.mlp(self.ln_3(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, qkv_bias: bool, qk_norm: bool):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads, qkv_bias, qk_norm)
                                        for _ in range(layers)])

    def forward(self, x):
        for block in self.resblocks:
            x = block(x)
        return x


class GeoDecoder(nn.Module):
    """Query points cross-attend to the decoded latents; one occupancy logit per query."""

    def __init__(self, config: HunyuanVAEConfig, embedder: FrequencyEmbedding):
        super().__init__()
        ratio = config.geo_decoder_downsample_ratio
        width, heads = config.width // ratio, config.heads // ratio
        self.embedder = embedder  # shared with the VAE, parameter-free
        self.query_proj = nn.Linear(embedder.out_dim, width)
        if ratio != 1:
            self.latents_proj = nn.Linear(width * ratio, width)
        self.cross_attn_decoder = ResidualCrossAttentionBlock(
            width, heads, config.qkv_bias, config.qk_norm and config.geo_decoder_ln_post,
            config.geo_decoder_mlp_expand_ratio)
        self.ln_post = nn.LayerNorm(width) if config.geo_decoder_ln_post else None
        self.output_proj = nn.Linear(width, 1)

    def forward(self, queries: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        x = self.query_proj(self.embedder(queries).to(latents.dtype))
        if hasattr(self, "latents_proj"):
            latents = self.latents_proj(latents)
        x = self.cross_attn_decoder(x, latents)
        if self.ln_post is not None:
            x = self.ln_post(x)
        return self.output_proj(x)


class HunyuanShapeVAE(nn.Module):
    """``post_kl`` -> ``transformer`` (decoder tokens) and ``geo_decoder`` (SDF queries)."""

    def __init__(self, config: HunyuanVAEConfig):
        super().__init__()
        if config.label_type != "binary":
            raise ValueError(f"label_type {config.label_type!r} is not supported (Hunyuan3D-2.1 uses 'binary')")
        self.config = config
        self.fourier_embedder = FrequencyEmbedding(config.num_freqs, include_pi=config.include_pi)
        self.post_kl = nn.Linear(config.embed_dim, config.width)
        self.transformer = Transformer(config.width, config.num_decoder_layers, config.heads, config.qkv_bias,
                                       config.qk_norm)
        self.geo_decoder = GeoDecoder(config, self.fourier_embedder)

    @property
    def latent_shape(self) -> tuple[int, int]:
        return self.config.num_latents, self.config.embed_dim

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """Decoder-space latents (B,K,C) -> tokens (B,K,W), as their ``vae(latents)``."""
        return self.transformer(self.post_kl(latents))

    def query(self, tokens: torch.Tensor, points: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
        """Signed distance, negative inside: ``-geo_decoder`` logits at ``points`` (B,Q,3)."""
        outs = [self.geo_decoder(points[:, i:i + chunk], tokens)[..., 0] for i in range(0, points.shape[1], chunk)]
        return -torch.cat(outs, dim=1)


class EncoderLayout(nn.Module):
    """Names and shapes of the published ``encoder.*`` and ``pre_kl`` tensors (checked, never run)."""

    def __init__(self, config: HunyuanVAEConfig):
        super().__init__()
        embed_dim = 3 * (2 * config.num_freqs + 1)
        encoder = nn.Module()
        encoder.input_proj = nn.Linear(embed_dim + config.point_feats, config.width)
        encoder.cross_attn = ResidualCrossAttentionBlock(config.width, config.heads, config.qkv_bias, config.qk_norm)
        if config.num_encoder_layers > 0:
            encoder.self_attn = Transformer(config.width, config.num_encoder_layers, config.heads, config.qkv_bias,
                                            config.qk_norm)
        if config.use_ln_post:
            encoder.ln_post = nn.LayerNorm(config.width)
        self.encoder = encoder
        self.pre_kl = nn.Linear(config.width, config.embed_dim * 2)
