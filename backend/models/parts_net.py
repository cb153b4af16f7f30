"""``kiln-parts-s``: a small point network that groups surface points into parts and names them.

Input: surface points (normalised: bbox centred, longest side spans [-1, 1], z up) and unit
normals. A stack of edge convolutions over k-nearest-neighbour graphs in space (the later ones
dilated, so the receptive field grows without more neighbours), a global max-pooled shape code,
then two per-point heads:

* ``features``: a unit vector per point trained contrastively (points of one part instance
  close, of different ones apart; PartField's idea), so any number of parts comes from
  clustering them, coarse to fine;
* ``logits``: the part's name in the procedural engine's vocabulary (``config.vocabulary``).

Edge convolution is split into two linear maps, ``W [x_j - x_i, x_i] = A x_j + B x_i``, applied
per point before gathering neighbours, so one CPU thread trains it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class PartsNetConfig:
    """Sizes of the network; saved next to the weights."""

    widths: tuple[int, ...] = (64, 64, 128, 128)
    dilations: tuple[int, ...] = (1, 1, 2, 4)
    neighbours: int = 16
    global_width: int = 256
    head_width: int = 192
    feature_dim: int = 32
    vocabulary: list[str] = field(default_factory=lambda: ["part"])

    def to_json(self) -> dict:
        data = asdict(self)
        data["widths"], data["dilations"] = list(self.widths), list(self.dilations)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "PartsNetConfig":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in ("widths", "dilations"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def knn(points: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (B, N, k) of each point's k nearest points (itself first), by a k-d tree."""
    from scipy.spatial import cKDTree

    k = min(k, points.shape[1])
    found = [cKDTree(p).query(p, k)[1].reshape(len(p), k) for p in points.detach().cpu().numpy()]
    return torch.from_numpy(np.stack(found)).to(points.device)


def gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values (B, N, C), index (B, N, k) -> (B, N, k, C)."""
    b, n, k = index.shape
    flat = index.reshape(b, n * k, 1).expand(-1, -1, values.shape[-1])
    return values.gather(1, flat).reshape(b, n, k, values.shape[-1])


class EdgeBlock(nn.Module):
    """gelu(norm(max_j (A x_j + B x_i))) over a point's neighbours j, then a pointwise layer (the
    max comes before the nonlinearity so nothing heavy runs per edge)."""

    def __init__(self, width_in: int, width_out: int):
        super().__init__()
        self.neighbour = nn.Linear(width_in, width_out, bias=False)
        self.centre = nn.Linear(width_in, width_out)
        self.norm = nn.LayerNorm(width_out)
        self.out = nn.Linear(width_out, width_out)

    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        edge = gather(self.neighbour(x), index) + self.centre(x).unsqueeze(2)
        pooled = F.gelu(self.norm(edge.amax(dim=2)))
        return F.gelu(self.out(pooled))


class PartsNet(nn.Module):
    """Points + normals -> (unit features (B,N,D), name logits (B,N,V))."""

    def __init__(self, config: PartsNetConfig):
        super().__init__()
        self.config = config
        widths_in = (7,) + tuple(config.widths[:-1])
        self.blocks = nn.ModuleList(EdgeBlock(a, b) for a, b in zip(widths_in, config.widths))
        local = sum(config.widths)
        self.shape_code = nn.Sequential(nn.Linear(local, config.global_width), nn.GELU())
        self.head = nn.Sequential(nn.Linear(local + config.global_width, config.head_width), nn.GELU(),
                                  nn.LayerNorm(config.head_width), nn.Linear(config.head_width, config.head_width),
                                  nn.GELU())
        self.features = nn.Linear(config.head_width, config.feature_dim)
        self.names = nn.Linear(config.head_width, len(config.vocabulary))

    def forward(self, points: torch.Tensor, normals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, dil = self.config.neighbours, max(self.config.dilations)
        index = knn(points, k * dil)
        if index.shape[-1] < k * dil:  # fewer points than neighbours: repeat the farthest
            index = torch.cat([index, index[..., -1:].expand(-1, -1, k * dil - index.shape[-1])], dim=-1)
        x = torch.cat([points, normals, points[..., 2:3].abs()], dim=-1)
        locals_ = []
        for block, d in zip(self.blocks, self.config.dilations):
            x = block(x, index[:, :, :k * d:d])
            locals_.append(x)
        local = torch.cat(locals_, dim=-1)
        code = self.shape_code(local).amax(dim=1, keepdim=True).expand(-1, local.shape[1], -1)
        h = self.head(torch.cat([local, code], dim=-1))
        return F.normalize(self.features(h), dim=-1), self.names(h)


def contrastive_loss(features: torch.Tensor, instance: torch.Tensor, anchors: int = 384,
                     temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss over ``anchors`` random points per shape; instance -1 ignored."""
    losses = []
    for f, inst in zip(features, instance):
        valid = torch.nonzero(inst >= 0).squeeze(1)
        if len(valid) < 2:
            continue
        pick = valid[torch.randperm(len(valid), device=f.device)[:anchors]]
        z, lab = f[pick], inst[pick]
        sim = z @ z.T / temperature
        eye = torch.eye(len(pick), dtype=torch.bool, device=f.device)
        sim = sim.masked_fill(eye, -1e9)
        positive = (lab[:, None] == lab[None, :]) & ~eye
        has = positive.any(dim=1)
        if not has.any():
            continue
        log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
        mean_pos = (log_prob * positive).sum(1) / positive.sum(1).clamp(min=1)
        losses.append(-mean_pos[has].mean())
    return torch.stack(losses).mean() if losses else features.sum() * 0.0
