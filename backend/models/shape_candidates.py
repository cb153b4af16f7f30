"""Keep the most connected of a few sampled shapes, judged by a cheap coarse decode.

A learned shape model sometimes answers a prompt with separate lumps for one noise seed and with
one object for another (kiln-shape-s, "a sofa": 29% of the surface in the largest piece for
seed 0, 100% for the next candidate). The generator therefore samples candidate 0 from the
user's seed and, only when that one is in pieces, the others (candidate k from
``candidate_seed(seed, k)``, so a seed still gives the same result) in one batch. Each is
extracted on a coarse grid (``COARSE_RESOLUTION``^3, coarse-to-fine: a few ten thousand decoder
queries, kept in the candidate's grid memo, which the final extraction re-uses) and judged by its
largest connected piece's share of the surface area once floating specks are dropped.

Iso-level search: the learned field is often just above zero across a thin part it nearly made
(a door's panel, a vase's neck), so the shape falls apart at level 0 and is one object a hair
higher. When no candidate of a batch is one piece at the model's level, each is extracted again
at the small offsets of ``LEVEL_OFFSETS`` (the values are in the memo: ~0.02 s each) and the one
that is one piece with the least added volume is kept, its offset said in the result's info (the
whole surface moves out by it: at most ``LEVEL_OFFSETS[-1]``, 0.6% of the box, well under the
model's own error of ~3%). Only when that fails too is the next batch sampled; when nothing
joins, the most connected candidate at the model's level is kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

COARSE_RESOLUTION = 32
CONNECTED_SHARE = 0.95
LEVEL_OFFSETS = (0.008, 0.016, 0.024)   # signed-distance units (the box is [-1, 1]^3): 0.5-1.5 cells at 128^3


@dataclass
class Judged:
    """A coarse surface's largest-piece share, area and enclosed volume."""

    share: float
    area: float
    volume: float


@dataclass
class Candidate:
    """One sampled shape: its seed, whatever the caller needs to finish it, and its coarse shares."""

    index: int
    seed: int
    shape: object            # the caller's handle (latents and the grid memo of its field)
    share: float             # largest piece's share of the coarse surface area at the kept offset (0.0: none)
    offset: float = 0.0      # iso-level offset kept (0.0: the model's level)
    added_volume: float = 0.0   # volume added by the offset, as a share of the volume at the model's level
    offsets: dict = field(default_factory=dict)   # offset -> coarse share, for every offset tried


def candidate_seed(seed: int, index: int) -> int:
    """The noise seed of candidate ``index``: the seed itself first, then seeds derived from both."""
    if index == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] & 0x7FFFFFFF)


def judge(field, bounds: float, level: float, cancel=None) -> Judged:
    """``field``'s ``level`` set on the coarse grid after the floater clean-up the result gets too:
    its largest piece's area share (0.0 when there is no surface at this grid: a shape too thin or
    too small for it counts as the worst), its area and volume."""
    from backend.geometry.extract import extract_mesh
    from backend.geometry.floaters import drop_floaters

    vertices, faces = extract_mesh(field, bounds, COARSE_RESOLUTION, level=level, batch_size=65536, cancel=cancel)
    if not len(faces):
        return Judged(0.0, 0.0, 0.0)
    vertices, faces, found = drop_floaters(vertices, faces)
    v = vertices.astype(np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    area = 0.5 * float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum())
    volume = abs(float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0)
    return Judged(found["largest_piece_share"], area, volume)


def coarse_share(field, bounds: float, level: float, cancel=None) -> float:
    """The largest piece's area share of ``field``'s ``level`` set on the coarse grid (see :func:`judge`)."""
    return judge(field, bounds, level, cancel).share


def joined_by_offset(candidate: Candidate, field, bounds: float, level: float, base: Judged, cancel=None) -> bool:
    """Try the ``LEVEL_OFFSETS`` on one candidate, lowest first; at the first that makes it one
    piece, record the offset, share and added volume in it and return True."""
    for offset in LEVEL_OFFSETS:
        if cancel is not None:
            cancel.check()
        found = judge(field, bounds, level + offset, cancel)
        candidate.offsets[offset] = round(found.share, 4)
        if found.share >= CONNECTED_SHARE:
            candidate.share, candidate.offset = found.share, offset
            candidate.added_volume = found.volume / base.volume - 1.0 if base.volume > 0 else 0.0
            return True
    return False


def most_connected(sample: Callable[[list[int], int], list[tuple[object, Callable]]], seed: int, count: int,
                   bounds: float, level: float, cancel=None) -> tuple[Candidate, list[Candidate]]:
    """Sample up to ``count`` candidates, stopping at the first batch with a connected one; (kept, all tried).

    ``sample(seeds, first_index)`` returns one (the caller's shape handle, its SDF) per seed; the
    SDF should be a ``GridMemo`` over the final grid, so the coarse values are not queried twice.
    Candidate 0 is sampled alone (most prompts stop there), the others together in one batch
    (on one CPU thread three in a batch cost about two sampled one at a time). In a batch, a
    candidate connected at the model's level wins; else the one joined by the smallest added
    volume (see the module docstring).
    """
    if count < 1:
        raise ValueError(f"candidates must be at least 1, got {count}")
    tried: list[Candidate] = []
    for batch in ([0], list(range(1, count))):
        if not batch:
            break
        seeds = [candidate_seed(seed, index) for index in batch]
        judged = []
        for index, noise_seed, (shape, field_) in zip(batch, seeds, sample(seeds, batch[0])):
            if cancel is not None:
                cancel.check()
            base = judge(field_, bounds, level, cancel)
            tried.append(Candidate(index, noise_seed, shape, base.share, offsets={0.0: round(base.share, 4)}))
            if base.share >= CONNECTED_SHARE:
                return tried[-1], tried
            judged.append((tried[-1], field_, base))
        joined = [c for c, field_, base in judged if joined_by_offset(c, field_, bounds, level, base, cancel)]
        if joined:
            return min(joined, key=lambda c: (c.added_volume, c.index)), tried
    kept = max(tried, key=lambda c: (c.offsets[0.0], -c.index))
    kept.share = kept.offsets[0.0]
    return kept, tried


def selection_report(kept: Candidate, tried: list[Candidate]) -> dict:
    """The info entry that says what was tried and which candidate was kept, at which level, and why."""
    grid = f"{COARSE_RESOLUTION}^3"
    if kept.share >= CONNECTED_SHARE and kept.offset == 0.0:
        why = f"the first whose largest piece holds >= {CONNECTED_SHARE:.0%} of the surface at {grid}"
    elif kept.share >= CONNECTED_SHARE:
        why = (f"none was one piece at the model's iso-level; this one is at level +{kept.offset:g} (the surface "
               f"moved out by {kept.offset:g}, {kept.added_volume:+.0%} volume at {grid}), the smallest addition "
               f"that joined a candidate's pieces")
    else:
        why = (f"none held {CONNECTED_SHARE:.0%} in one piece at {grid}, also with the level raised by up to "
               f"{LEVEL_OFFSETS[-1]:g}; kept the most connected at the model's level")
    return {"kept": kept.index, "seed": kept.seed, "level_offset": kept.offset,
            "added_volume": round(kept.added_volume, 4), "reason": why,
            "tried": [{"seed": c.seed, "coarse_share": c.offsets.get(0.0, round(c.share, 4)),
                       "offsets": {f"{k:g}": v for k, v in c.offsets.items() if k}} for c in tried]}


def pieces_warning(model: str, extraction: dict, tried: list[Candidate]) -> str | None:
    """What the user is told when the kept shape is still in pieces after the clean-up (None when
    its largest piece holds ``CONNECTED_SHARE`` of the surface)."""
    share = extraction["largest_piece_share"]
    if share >= CONNECTED_SHARE:
        return None
    pieces = extraction["pieces"] - extraction["dropped"]
    return (f"{model} made this shape in {pieces} separate pieces (the largest holds {share:.0%} of the surface; "
            f"{len(tried)} candidate{'s' if len(tried) != 1 else ''} tried); try another seed.")
