"""Keep the most connected of a few sampled shapes, judged by a cheap coarse decode.

A learned shape model sometimes answers a prompt with separate lumps for one noise seed and with
one object for another (kiln-shape-s, "a sofa": 29% of the surface in the largest piece for
seed 0, 100% for the next candidate). The generator therefore samples candidate 0 from the
user's seed and, only when that one is in pieces, the others (candidate k from
``candidate_seed(seed, k)``, so a seed still gives the same result) in one batch. Each is
extracted on a coarse grid (``COARSE_RESOLUTION``^3, coarse-to-fine: a few ten thousand decoder
queries, kept in the candidate's grid memo, which the final extraction re-uses); the first whose
largest connected piece holds at least ``CONNECTED_SHARE`` of its surface area once floating
specks are dropped is taken, and when none does, the one with the largest share. What was tried
and why one was kept goes into the result's info.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

COARSE_RESOLUTION = 32
CONNECTED_SHARE = 0.95


@dataclass
class Candidate:
    """One sampled shape: its seed, whatever the caller needs to finish it, and its coarse share."""

    index: int
    seed: int
    shape: object            # the caller's handle (latents and the grid memo of its field)
    share: float             # largest piece's share of the coarse surface area (0.0: no surface)


def candidate_seed(seed: int, index: int) -> int:
    """The noise seed of candidate ``index``: the seed itself first, then seeds derived from both."""
    if index == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] & 0x7FFFFFFF)


def coarse_share(field, bounds: float, level: float, cancel=None) -> float:
    """The largest piece's area share of ``field``'s ``level`` set on the coarse grid, after the
    floater clean-up the result gets too (0.0 when there is no surface at this grid: a shape too
    thin or too small for it counts as the worst)."""
    from backend.geometry.extract import extract_mesh
    from backend.geometry.floaters import drop_floaters

    vertices, faces = extract_mesh(field, bounds, COARSE_RESOLUTION, level=level, batch_size=65536, cancel=cancel)
    return drop_floaters(vertices, faces)[2]["largest_piece_share"] if len(faces) else 0.0


def most_connected(sample: Callable[[list[int], int], list[tuple[object, Callable]]], seed: int, count: int,
                   bounds: float, level: float, cancel=None) -> tuple[Candidate, list[Candidate]]:
    """Sample up to ``count`` candidates, stopping at the first connected one; (kept, all tried).

    ``sample(seeds, first_index)`` returns one (the caller's shape handle, its SDF) per seed; the
    SDF should be a ``GridMemo`` over the final grid, so the coarse values are not queried twice.
    Candidate 0 is sampled alone (most prompts stop there), the others together in one batch
    (on one CPU thread three in a batch cost about two sampled one at a time).
    """
    if count < 1:
        raise ValueError(f"candidates must be at least 1, got {count}")
    tried: list[Candidate] = []
    for batch in ([0], list(range(1, count))):
        if not batch:
            break
        seeds = [candidate_seed(seed, index) for index in batch]
        for index, noise_seed, (shape, field) in zip(batch, seeds, sample(seeds, batch[0])):
            if cancel is not None:
                cancel.check()
            tried.append(Candidate(index, noise_seed, shape, coarse_share(field, bounds, level, cancel)))
            if tried[-1].share >= CONNECTED_SHARE:
                return tried[-1], tried
    return max(tried, key=lambda c: (c.share, -c.index)), tried


def selection_report(kept: Candidate, tried: list[Candidate]) -> dict:
    """The info entry that says what was tried and which candidate was kept, and why."""
    if kept.share >= CONNECTED_SHARE:
        why = f"the first whose largest piece holds >= {CONNECTED_SHARE:.0%} of the surface at {COARSE_RESOLUTION}^3"
    else:
        why = f"none held {CONNECTED_SHARE:.0%} in one piece at {COARSE_RESOLUTION}^3; kept the most connected"
    return {"kept": kept.index, "seed": kept.seed, "reason": why,
            "tried": [{"seed": c.seed, "coarse_share": round(c.share, 4)} for c in tried]}


def pieces_warning(model: str, extraction: dict, tried: list[Candidate]) -> str | None:
    """What the user is told when the kept shape is still in pieces after the clean-up (None when
    its largest piece holds ``CONNECTED_SHARE`` of the surface)."""
    share = extraction["largest_piece_share"]
    if share >= CONNECTED_SHARE:
        return None
    pieces = extraction["pieces"] - extraction["dropped"]
    return (f"{model} made this shape in {pieces} separate pieces (the largest holds {share:.0%} of the surface; "
            f"{len(tried)} candidate{'s' if len(tried) != 1 else ''} tried); try another seed.")
