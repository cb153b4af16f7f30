"""Triplane shape VAE (kiln-shape-g): a LOCAL latent, Convolutional Occupancy Networks style.

Encode: surface points + normals -> per-point MLP (Fourier features) with one round of local
pooling (features averaged per cell of the three axis planes and handed back to the points) ->
features averaged into three planes (xy, xz, yz) of ``plane_resolution``^2 cells -> a few
convolutions (weights shared by the planes) down to ``latent_resolution``^2 -> a diagonal
Gaussian of ``latent_channels`` per cell. Decode: convolutions back up to ``plane_resolution``
-> a query point reads each plane bilinearly at its projection; the three features and low
Fourier features of the point go through a small MLP to the signed distance (negative inside).

The interface is :class:`backend.models.shape_vae.ShapeVAE`'s (``encode`` -> (mean, logvar) as
(B, K, C) tokens with K = 3 * latent_resolution^2, ``decode_tokens``, ``query``, ``forward``), so
the VAE training loop, ``shape_reconstruct.Autoencoder`` and the benches take either. Unlike the
latent set, every latent cell describes a fixed patch of space, so thin parts (chair legs, lamp
stems) only have to be fitted locally.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torch.nn import functional as F

from .shape_vae import FrequencyEmbedding

PLANES = ((0, 1), (0, 2), (1, 2))   # xy, xz, yz: which coordinates span each plane


@dataclass
class TriplaneConfig:
    """Sizes of the triplane VAE (stored as ``vae`` in checkpoints, with ``architecture: triplane``)."""

    latent_channels: int = 8
    latent_resolution: int = 16     # KL bottleneck: 3 x R^2 cells of latent_channels
    plane_resolution: int = 32      # encoder input and decoder output planes
    point_width: int = 32           # per-point encoder features
    conv_width: int = 64            # convolution channels at the latent resolution (half above it)
    plane_channels: int = 32        # decoded plane features a query reads
    mlp_width: int = 128
    embed_frequency: int = 6        # encoder Fourier features
    query_frequency: int = 2        # decoder Fourier features of the query position (low: locality)
    bound: float = 1.0              # planes span [-bound, bound]; outside, the border cell is read

    @classmethod
    def from_dict(cls, data: dict) -> "TriplaneConfig":
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in data.items() if k in known})
        steps = config.plane_resolution // config.latent_resolution
        if steps < 1 or config.latent_resolution * steps != config.plane_resolution or steps & (steps - 1):
            raise ValueError(f"plane_resolution {config.plane_resolution} must be latent_resolution "
                             f"{config.latent_resolution} times a power of two")
        return config

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def num_tokens(self) -> int:
        return 3 * self.latent_resolution ** 2


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> 3x3 conv, twice, plus the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.GroupNorm(8, channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.GroupNorm(8, channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _halvings(config: TriplaneConfig) -> int:
    return (config.plane_resolution // config.latent_resolution).bit_length() - 1


class TriplaneVAE(nn.Module):
    """The VAE; ``config`` is a :class:`TriplaneConfig`."""

    def __init__(self, config: TriplaneConfig):
        super().__init__()
        self.config = config
        w, c, half = config.point_width, config.conv_width, max(config.conv_width // 2, 8)
        self.embedder = FrequencyEmbedding(config.embed_frequency)
        self.query_embedder = FrequencyEmbedding(config.query_frequency)
        self.point_in = nn.Sequential(nn.Linear(self.embedder.out_dim + 3, w), nn.SiLU(), nn.Linear(w, w))
        self.point_mix = nn.Sequential(nn.SiLU(), nn.Linear(2 * w, w), nn.SiLU(), nn.Linear(w, w))
        down = [nn.Conv2d(w, half, 3, padding=1)]
        width = half
        for i in range(_halvings(config)):
            out = c if i == _halvings(config) - 1 else half
            down += [ResBlock(width), nn.Conv2d(width, out, 3, stride=2, padding=1)]
            width = out
        self.encoder = nn.Sequential(*down, ResBlock(width), nn.GroupNorm(8, width), nn.SiLU())
        self.quant = nn.Conv2d(width, 2 * config.latent_channels, 1)
        up = [nn.Conv2d(config.latent_channels, c, 1), ResBlock(c)]
        width = c
        for _ in range(_halvings(config)):
            up += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, half, 3, padding=1), ResBlock(half)]
            width = half
        self.decoder = nn.Sequential(*up, nn.GroupNorm(8, width), nn.SiLU(),
                                     nn.Conv2d(width, config.plane_channels, 3, padding=1))
        m = config.mlp_width
        self.head = nn.Sequential(nn.Linear(3 * config.plane_channels + self.query_embedder.out_dim, m), nn.SiLU(),
                                  nn.Linear(m, m), nn.SiLU(), nn.Linear(m, m), nn.SiLU(), nn.Linear(m, 1))

    # ------------------------------------------------------------------------------- encoder
    def _cells(self, points: torch.Tensor) -> torch.Tensor:
        """Flat cell index (B, 3, N) of every point in each plane at the plane resolution."""
        r = self.config.plane_resolution
        grid = ((points / self.config.bound + 1) * 0.5 * r).floor().clamp(0, r - 1).long()
        return torch.stack([grid[..., a] * r + grid[..., b] for a, b in PLANES], dim=1)

    def _scatter_mean(self, features: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """Features (B, N, W) averaged per plane cell: (B, 3, W, R*R)."""
        b, n, w = features.shape
        r2 = self.config.plane_resolution ** 2
        index = cells[:, :, None, :].expand(b, 3, w, n)
        values = features.transpose(1, 2)[:, None].expand(b, 3, w, n)
        sums = features.new_zeros(b, 3, w, r2).scatter_add_(3, index, values)
        counts = features.new_zeros(b, 3, 1, r2).scatter_add_(3, cells[:, :, None, :], features.new_ones(b, 3, 1, n))
        return sums / counts.clamp(min=1.0)

    def encode(self, points: torch.Tensor, normals: torch.Tensor, num_tokens: int | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior (mean, logvar), each (B, 3*R^2, C) with R = ``latent_resolution``."""
        if points.shape != normals.shape or points.ndim != 3 or points.shape[-1] != 3:
            raise ValueError(f"points and normals must both be (B,N,3), got {tuple(points.shape)}, "
                             f"{tuple(normals.shape)}")
        if num_tokens not in (None, self.config.num_tokens):
            raise ValueError(f"a triplane VAE has {self.config.num_tokens} latent cells, not {num_tokens} tokens")
        b, n, _ = points.shape
        r = self.config.plane_resolution
        cells = self._cells(points)
        features = self.point_in(torch.cat([self.embedder(points), normals], dim=-1))
        pooled = self._scatter_mean(features, cells)                             # (B, 3, W, R*R)
        local = torch.gather(pooled, 3, cells[:, :, None, :].expand(-1, -1, pooled.shape[2], -1)).sum(1)
        features = features + self.point_mix(torch.cat([features, local.transpose(1, 2)], dim=-1))
        planes = self._scatter_mean(features, cells).reshape(b * 3, -1, r, r)
        moments = self.quant(self.encoder(planes))                               # (3B, 2C, R', R')
        mean, logvar = moments.chunk(2, dim=1)
        return self._to_tokens(mean, b), self._to_tokens(logvar, b).clamp(-30.0, 20.0)

    def _to_tokens(self, grid: torch.Tensor, batch: int) -> torch.Tensor:
        """(3B, C, R, R) -> (B, 3*R*R, C)."""
        c, r = grid.shape[1], grid.shape[2]
        return grid.reshape(batch, 3, c, r * r).permute(0, 1, 3, 2).reshape(batch, 3 * r * r, c)

    # ------------------------------------------------------------------------------- decoder
    def decode_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (B, 3*R^2, C) -> decoded planes (B, 3, F, P, P) that :meth:`query` reads."""
        b, k, c = latents.shape
        r = self.config.latent_resolution
        if k != self.config.num_tokens:
            raise ValueError(f"expected {self.config.num_tokens} latent cells, got {k}")
        grid = latents.reshape(b, 3, r * r, c).permute(0, 1, 3, 2).reshape(b * 3, c, r, r)
        planes = self.decoder(grid)
        return planes.reshape(b, 3, *planes.shape[1:])

    def query(self, tokens: torch.Tensor, points: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
        """Signed distance (B, Q), negative inside, at ``points`` (B, Q, 3), ``chunk`` at a time."""
        return torch.cat([self._query(tokens, points[:, i:i + chunk]) for i in range(0, points.shape[1], chunk)], 1)

    def _query(self, planes: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        b, q, _ = points.shape
        uv = points / self.config.bound
        sampled = []
        for p, (a, c) in enumerate(PLANES):
            # grid_sample: grid[..., 0] runs along the last (width) axis = the plane's second coordinate
            grid = torch.stack([uv[..., c], uv[..., a]], dim=-1)[:, None]       # (B, 1, Q, 2)
            sampled.append(F.grid_sample(planes[:, p], grid, mode="bilinear", padding_mode="border",
                                         align_corners=False)[:, :, 0])          # (B, F, Q)
        features = torch.cat(sampled, dim=1).transpose(1, 2)
        return self.head(torch.cat([features, self.query_embedder(points)], dim=-1))[..., 0]

    def forward(self, points, normals, queries, num_tokens=None, generator=None):
        """Training pass: (predicted sdf at ``queries`` (B, Q), KL divergence per shape (B,))."""
        mean, logvar = self.encode(points, normals, num_tokens, generator)
        noise = torch.randn(mean.shape, generator=generator,
                            device=generator.device if generator is not None else mean.device)
        latents = mean + torch.exp(0.5 * logvar) * noise.to(mean.device, mean.dtype)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=(1, 2))
        return self.query(self.decode_tokens(latents), queries), kl
