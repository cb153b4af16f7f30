"""Latent-set shape VAE (3DShape2VecSet / CLAY / TripoSG family).

Encode: surface points + normals -> Fourier features -> cross-attention from a farthest-point
subset of K points onto all points -> self-attention -> ``quant`` -> diagonal Gaussian over K
latent tokens of C channels. Decode: ``post_quant`` -> self-attention -> each query point
(Fourier features -> ``proj_query``) cross-attends to the tokens -> ``norm_out`` -> ``proj_out``.
The number of tokens K is chosen at encode time. Module tree and names follow the released
``TripoSGVAEModel``; sizes come from :class:`VAEConfig`, whose field names are those of its
``config.json``.

Sign convention: :meth:`ShapeVAE.query` returns ``sdf_sign * proj_out(...)``, negative inside.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, asdict

import torch
from torch import nn

from .attention_blocks import DiTBlock


@dataclass
class VAEConfig:
    """Sizes of the VAE; the first ten fields are TripoSG's ``vae/config.json`` names."""

    in_channels: int = 3
    latent_channels: int = 64
    num_attention_heads: int = 8
    width_encoder: int = 512
    width_decoder: int = 1024
    num_layers_encoder: int = 8
    num_layers_decoder: int = 16
    embedding_type: str = "frequency"
    embed_frequency: int = 8
    embed_include_pi: bool = False
    num_tokens: int = 2048          # default K at encode time
    sdf_sign: float = 1.0           # proj_out * sdf_sign is negative inside

    @classmethod
    def from_dict(cls, data: dict) -> "VAEConfig":
        """Build from a config dict, ignoring keys this implementation does not use (``_class_name``...)."""
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in data.items() if k in known})
        if config.embedding_type != "frequency":
            raise ValueError(f"embedding_type {config.embedding_type!r} not supported (only 'frequency')")
        return config

    def to_dict(self) -> dict:
        return asdict(self)


class FrequencyEmbedding(nn.Module):
    """``[x, sin(x f_i), cos(x f_i)]`` with f_i = 2^i (times pi if asked); no parameters."""

    def __init__(self, num_freqs: int, input_dim: int = 3, include_pi: bool = False):
        super().__init__()
        self.num_freqs = num_freqs
        self.scale = torch.pi if include_pi else 1.0
        self.out_dim = input_dim * (2 * num_freqs + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # computed here rather than held in a buffer, so a model built on the meta device needs no fix-up
        freqs = 2.0 ** torch.arange(self.num_freqs, dtype=torch.float32, device=x.device) * self.scale
        scaled = (x[..., None] * freqs.to(x.dtype)).flatten(-2)
        return torch.cat([x, scaled.sin(), scaled.cos()], dim=-1)


class ShapeEncoder(nn.Module):
    """``proj_in`` -> one cross-attention block (subset -> all points) -> self-attention -> ``norm_out``."""

    def __init__(self, in_features: int, width: int, heads: int, num_layers: int):
        super().__init__()
        self.proj_in = nn.Linear(in_features, width, bias=True)
        self.blocks = nn.ModuleList(
            [DiTBlock(width, heads, use_self_attention=False, use_cross_attention=True,
                      cross_attention_dim=width, cross_attention_norm=True)]
            + [DiTBlock(width, heads) for _ in range(num_layers)])
        self.norm_out = nn.LayerNorm(width)

    def forward(self, subset_features: torch.Tensor, all_features: torch.Tensor) -> torch.Tensor:
        x = self.proj_in(subset_features)
        context = self.proj_in(all_features)
        x = self.blocks[0](x, context=context)
        for block in self.blocks[1:]:
            x = block(x)
        return self.norm_out(x)


class ShapeDecoder(nn.Module):
    """Self-attention over tokens, then query points cross-attend to them (the last block)."""

    def __init__(self, query_features: int, width: int, heads: int, num_layers: int):
        super().__init__()
        self.blocks = nn.ModuleList(
            [DiTBlock(width, heads) for _ in range(num_layers)]
            + [DiTBlock(width, heads, use_self_attention=False, use_cross_attention=True,
                        cross_attention_dim=width, cross_attention_norm=True)])
        self.proj_query = nn.Linear(query_features, width, bias=True)
        self.norm_out = nn.LayerNorm(width)
        self.proj_out = nn.Linear(width, 1, bias=True)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks[:-1]:
            x = block(x)
        return x

    def query(self, query_features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        x = self.blocks[-1](self.proj_query(query_features), context=tokens)
        return self.proj_out(self.norm_out(x))[..., 0]


class ShapeVAE(nn.Module):
    """The VAE. Parameter names: ``encoder.*``, ``decoder.*``, ``quant``, ``post_quant``."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        self.embedder = FrequencyEmbedding(config.embed_frequency, config.in_channels, config.embed_include_pi)
        self.encoder = ShapeEncoder(self.embedder.out_dim + config.in_channels, config.width_encoder,
                                    config.num_attention_heads, config.num_layers_encoder)
        self.decoder = ShapeDecoder(self.embedder.out_dim, config.width_decoder,
                                    config.num_attention_heads, config.num_layers_decoder)
        self.quant = nn.Linear(config.width_encoder, 2 * config.latent_channels, bias=True)
        self.post_quant = nn.Linear(config.latent_channels, config.width_decoder, bias=True)

    def encode(self, points: torch.Tensor, normals: torch.Tensor, num_tokens: int | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior (mean, logvar), each (B,K,C), of surface ``points``/``normals`` (B,N,3).

        The K query points are a farthest-point subset of up to 4K points drawn from the input:
        random when ``generator`` is given (training), reproducible when it is None (inference).
        """
        num_tokens = int(num_tokens or self.config.num_tokens)
        if points.shape != normals.shape or points.ndim != 3 or points.shape[-1] != 3:
            raise ValueError(f"points and normals must both be (B,N,3), got {tuple(points.shape)}, "
                             f"{tuple(normals.shape)}")
        if points.shape[1] < num_tokens:
            raise ValueError(f"{points.shape[1]} surface points cannot give {num_tokens} tokens")
        features = torch.cat([self.embedder(points), normals], dim=-1)
        index = sample_token_indices(points, num_tokens, generator)
        subset = torch.gather(features, 1, index[..., None].expand(-1, -1, features.shape[-1]))
        moments = self.quant(self.encoder(subset, features))
        mean, logvar = moments.chunk(2, dim=-1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (B,K,C) -> decoder tokens (B,K,W) that :meth:`query` reads (compute once per shape)."""
        return self.decoder.tokens(self.post_quant(latents))

    def query(self, tokens: torch.Tensor, points: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
        """Signed distance (B,Q), negative inside, at ``points`` (B,Q,3), ``chunk`` queries at a time."""
        outs = [self.decoder.query(self.embedder(points[:, i:i + chunk]), tokens)
                for i in range(0, points.shape[1], chunk)]
        return self.config.sdf_sign * torch.cat(outs, dim=1)

    def forward(self, points, normals, queries, num_tokens=None, generator=None):
        """Training pass: (predicted sdf at ``queries`` (B,Q), KL divergence per shape (B,))."""
        mean, logvar = self.encode(points, normals, num_tokens, generator)
        noise = torch.randn(mean.shape, generator=generator, device=_device_of(generator, mean))
        noise = noise.to(mean.device, mean.dtype)
        latents = mean + torch.exp(0.5 * logvar) * noise
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=(1, 2))
        return self.query(self.decode_tokens(latents), queries), kl


def sample_token_indices(points: torch.Tensor, num_tokens: int,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices (B,K) of a farthest-point subset of (up to) 4K random points of ``points`` (B,N,3)."""
    batch, count, _ = points.shape
    pool_size = min(count, 4 * num_tokens)
    if pool_size < count:
        pool_rng = generator if generator is not None else torch.Generator().manual_seed(0)
        order = torch.rand(batch, count, generator=pool_rng, device=pool_rng.device)
        order = order.to(points.device).argsort(dim=1)
        pool = order[:, :pool_size]
    else:
        pool = torch.arange(count, device=points.device).expand(batch, -1)
    candidates = torch.gather(points, 1, pool[..., None].expand(-1, -1, 3))
    chosen = farthest_point_sample(candidates, num_tokens, random_start=generator is not None,
                                   generator=generator)
    return torch.gather(pool, 1, chosen)


def farthest_point_sample(points: torch.Tensor, k: int, random_start: bool = False,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Greedy farthest-point sampling: indices (B,k) into ``points`` (B,N,3)."""
    batch, count, _ = points.shape
    chosen = torch.empty(batch, k, dtype=torch.long, device=points.device)
    if random_start:
        current = torch.randint(count, (batch,), generator=generator, device=_device_of(generator, points))
        current = current.to(points.device)
    else:
        current = torch.zeros(batch, dtype=torch.long, device=points.device)
    nearest = torch.full((batch, count), float("inf"), device=points.device, dtype=points.dtype)
    rows = torch.arange(batch, device=points.device)
    for i in range(k):
        chosen[:, i] = current
        distance = (points - points[rows, current][:, None]).pow(2).sum(-1)
        nearest = torch.minimum(nearest, distance)
        current = nearest.argmax(dim=1)
    return chosen


def _device_of(generator: torch.Generator | None, tensor: torch.Tensor) -> torch.device:
    """Random numbers are drawn on the generator's device (CPU generators stay reproducible)."""
    return generator.device if generator is not None else tensor.device
