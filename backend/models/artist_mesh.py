"""The artist mesh transformer: points + normals in, strip tokens (``mesh_tokens``) out.

A small point encoder (Fourier features of position + normal, cross-attended into learned latent
queries) gives prefix tokens; a face-count token says how many faces are wanted; a decoder-only
transformer reads ``[count, latents..., BOS, tokens...]`` causally. Generation keeps a KV cache,
masks tokens the grammar does not allow (and vertices that would repeat one of the face's own),
reports progress every hundred tokens and checks cancel inside the loop.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .mesh_tokens import BOS, EOS, Decoder, TokenSpec

FORMAT = "kiln-artist"


@dataclass
class ArtistConfig:
    """Sizes of the model; stored in the checkpoint's JSON."""

    levels: int = 64
    block: int = 8
    dim: int = 192
    layers: int = 6
    heads: int = 6
    latents: int = 32
    points: int = 1024
    fourier: int = 6
    max_tokens: int = 2048
    max_faces: int = 400
    count_buckets: int = 48

    def to_json(self) -> dict:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> "ArtistConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def spec(self) -> TokenSpec:
        return TokenSpec(self.levels, self.block)


def count_bucket(faces: int, buckets: int) -> int:
    """The face-count token: log2 scale, four buckets per doubling from 4 faces."""
    return int(np.clip(round((math.log2(max(faces, 1)) - 2) * 4), 0, buckets - 1))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None and "k" in cache:
            k = torch.cat([cache["k"], k], dim=2)
            v = torch.cat([cache["v"], v], dim=2)
        if cache is not None:
            cache["k"], cache["v"] = k, v
        if n == 1:
            y = F.scaled_dot_product_attention(q, k, v)  # one new query sees everything before it
        else:
            past = k.shape[2] - n
            mask = torch.ones(n, k.shape[2], dtype=torch.bool, device=x.device).tril(past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cache)
        return x + self.mlp(self.norm2(x))


class PointEncoder(nn.Module):
    """(B, N, 6) points + normals -> (B, latents, dim) by cross-attention from learned queries."""

    def __init__(self, cfg: ArtistConfig):
        super().__init__()
        self.register_buffer("freqs", (2.0 ** torch.arange(cfg.fourier)) * math.pi, persistent=False)
        self.embed = nn.Linear(3 + 3 + 6 * cfg.fourier, cfg.dim)
        self.queries = nn.Parameter(torch.randn(cfg.latents, cfg.dim) * 0.02)
        self.norm_q = nn.LayerNorm(cfg.dim)
        self.norm_kv = nn.LayerNorm(cfg.dim)
        self.cross = nn.MultiheadAttention(cfg.dim, cfg.heads, batch_first=True)
        self.mlp = nn.Sequential(nn.LayerNorm(cfg.dim), nn.Linear(cfg.dim, 2 * cfg.dim), nn.GELU(),
                                 nn.Linear(2 * cfg.dim, cfg.dim))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        xyz, normals = points[..., :3], points[..., 3:]
        angles = xyz[..., None] * self.freqs
        feats = torch.cat([xyz, normals, angles.sin().flatten(-2), angles.cos().flatten(-2)], dim=-1)
        kv = self.norm_kv(self.embed(feats))
        q = self.norm_q(self.queries).expand(points.shape[0], -1, -1)
        lat = q + self.cross(q, kv, kv, need_weights=False)[0]
        return lat + self.mlp(lat)


class ArtistMeshModel(nn.Module):
    """Point-conditioned autoregressive mesh transformer (see the module docstring)."""

    def __init__(self, cfg: ArtistConfig):
        super().__init__()
        self.cfg = cfg
        spec = cfg.spec
        self.encoder = PointEncoder(cfg)
        self.count = nn.Embedding(cfg.count_buckets, cfg.dim)
        self.tokens = nn.Embedding(spec.vocab_size, cfg.dim)
        self.position = nn.Embedding(cfg.max_tokens + cfg.latents + 1, cfg.dim)
        self.blocks = nn.ModuleList([Block(cfg.dim, cfg.heads) for _ in range(cfg.layers)])
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, spec.vocab_size, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    @property
    def prefix_len(self) -> int:
        return self.cfg.latents + 1

    def prefix(self, points: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """(B, latents + 1, dim): the count token, then the point latents."""
        return torch.cat([self.count(counts)[:, None], self.encoder(points)], dim=1)

    def _run(self, x: torch.Tensor, start: int, caches: list | None) -> torch.Tensor:
        pos = torch.arange(start, start + x.shape[1], device=x.device)
        x = x + self.position(pos)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.norm(x))

    def forward(self, points: torch.Tensor, counts: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab) for ``tokens`` (B, T) starting with BOS: position t predicts t+1."""
        x = torch.cat([self.prefix(points, counts), self.tokens(tokens)], dim=1)
        return self._run(x, 0, None)[:, self.prefix_len:]

    def loss(self, points, counts, tokens, lengths) -> torch.Tensor:
        """Mean next-token cross-entropy over the real (unpadded) positions; tokens = BOS..EOS."""
        logits = self.forward(points, counts, tokens[:, :-1])
        target = tokens[:, 1:]
        keep = torch.arange(target.shape[1], device=tokens.device)[None] < (lengths[:, None] - 1)
        return F.cross_entropy(logits[keep], target[keep])

    @torch.no_grad()
    def generate(self, points: torch.Tensor, faces: int, max_faces: int | None = None,
                 temperature: float = 0.0, top_k: int = 0, top_p: float = 0.0, seed: int = 0,
                 use_cache: bool = True, constraints=None, progress=None, cancel=None) -> tuple[Decoder, list[int]]:
        """Tokens for one point cloud (1, N, 6); returns (the grammar decoder holding the mesh, tokens).

        ``temperature`` 0 is greedy; otherwise sampling (optionally top-k and/or nucleus top-p) from
        ``seed``. ``constraints`` (a ``mesh_constraints.MeshConstraints``) narrows the grammar's mask
        to tokens that keep the mesh valid and on the input. Stops at EOS, at ``max_faces`` faces or
        at the model's token limit. ``progress(done, limit)`` every hundred tokens;
        ``cancel.check()`` every token.
        """
        cfg = self.cfg
        spec = cfg.spec
        max_faces = min(max_faces or cfg.max_faces, cfg.max_faces)
        gen = torch.Generator().manual_seed(seed)
        counts = torch.tensor([count_bucket(faces, cfg.count_buckets)], device=points.device)
        reader = Decoder(spec)
        prefix = self.prefix(points, counts)
        first = torch.cat([prefix, self.tokens(torch.tensor([[BOS]], device=points.device))], dim=1)
        caches = [dict() for _ in self.blocks] if use_cache else None
        logits = self._run(first, 0, caches)[0, -1]
        seq = [BOS]
        out: list[int] = []
        mask = np.zeros(spec.vocab_size, dtype=bool)
        while len(out) < cfg.max_tokens - 1:
            if cancel is not None:
                cancel.check()
            face_ok, block_ok, offset_ok = reader.allowed()
            mask[:] = False
            if face_ok:
                if len(reader.faces) >= max_faces or len(out) > cfg.max_tokens - 12:
                    mask[EOS] = True
                else:
                    mask[reader.face_tokens()] = True
                    mask[EOS] = bool(reader.faces)
            if block_ok:
                mask[spec.block_base:spec.vocab_size] = True
            if offset_ok:
                mask[spec.offset_base:spec.block_base] = True
                mask[reader.repeated_offsets()] = False  # a face never repeats a vertex
            if constraints is not None:
                constraints.restrict(reader, mask)
            allowed = torch.from_numpy(mask).to(logits.device)
            scores = logits.float().masked_fill(~allowed, float("-inf"))
            if temperature <= 0:
                token = int(scores.argmax())
            else:
                token = _sample(scores / temperature, top_k, top_p, gen)
            if token == EOS:
                break
            reader.feed(token)
            out.append(token)
            seq.append(token)
            if progress is not None and len(out) % 100 == 0:
                progress(len(out), cfg.max_tokens)
            if use_cache:
                x = self.tokens(torch.tensor([[token]], device=points.device))
                logits = self._run(x, self.prefix_len + len(seq) - 1, caches)[0, -1]
            else:
                x = torch.cat([prefix, self.tokens(torch.tensor([seq], device=points.device))], dim=1)
                logits = self._run(x, 0, None)[0, -1]
        return reader, out


def _sample(scores: torch.Tensor, top_k: int, top_p: float, gen: torch.Generator) -> int:
    """One token from ``scores`` (masked logits over temperature), cut to the top ``top_k`` and to
    the smallest set holding ``top_p`` of the probability when those are set."""
    if top_k:
        kth = torch.topk(scores, min(top_k, int(torch.isfinite(scores).sum()))).values[-1]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    probs = scores.softmax(-1).cpu()
    if 0 < top_p < 1:
        sorted_p, order = probs.sort(descending=True)
        drop = sorted_p.cumsum(0) - sorted_p > top_p  # keep up to and including the token that reaches top_p
        probs[order[drop]] = 0
    return int(torch.multinomial(probs, 1, generator=gen))
