"""The artist retopology pipeline: a mesh in, the transformer's quad-dominant mesh out.

Points + normals are sampled from the input in its normalised frame, the model writes strip
tokens (``mesh_tokens``), and the decoded faces are mapped back to the input's coordinates. The
caller checks the result (``backend.geometry.mesh_validity``) and falls back when it fails.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from backend.geometry.polymesh import boundary_edge_count

from .mesh_constraints import MeshConstraints
from .mesh_tokens import normalization

SURFACE_SAMPLES = 40_000  # input samples behind the constraints' distance grid


def fan_triangles(face_sizes: np.ndarray, face_indices: np.ndarray) -> np.ndarray:
    """Polygons as fan triangles (T,3) (for surface sampling only)."""
    sizes = np.asarray(face_sizes, dtype=np.int64)
    idx = np.asarray(face_indices, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    count = np.maximum(sizes - 2, 0)
    face = np.repeat(np.arange(len(sizes)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    base = starts[face]
    return np.stack([idx[base], idx[base + k + 1], idx[base + k + 2]], axis=1)


def condition_points(positions: np.ndarray, triangles: np.ndarray, frame: tuple[np.ndarray, float],
                     count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, 6): area-weighted surface samples and their face normals, in the normalised frame."""
    center, half = frame
    v = (np.asarray(positions, np.float64) - center) / half
    a, b, c = v[triangles[:, 0]], v[triangles[:, 1]], v[triangles[:, 2]]
    cross = np.cross(b - a, c - a)
    area = np.linalg.norm(cross, axis=1)
    if area.sum() <= 0:
        raise ValueError("the mesh has no surface area to sample")
    pick = rng.choice(len(triangles), size=count, p=area / area.sum())
    r1, r2 = rng.random(count), rng.random(count)
    s = np.sqrt(r1)
    pts = a[pick] * (1 - s)[:, None] + b[pick] * (s * (1 - r2))[:, None] + c[pick] * (s * r2)[:, None]
    normals = cross[pick] / np.maximum(area[pick], 1e-12)[:, None]
    return np.concatenate([pts, normals], axis=1)


@dataclass
class ArtistResult:
    """The model's mesh in the input's coordinates, before any check."""

    positions: np.ndarray                 # (V,3) float64
    faces: list[tuple[int, ...]]          # triangles and quads
    tokens: int
    seconds: float
    complete: bool                        # the model ended with EOS (not cut at a limit)
    constraints: dict | None = None       # constrained decoding: input covered, relaxed vertex steps


class ArtistRetopo:
    """A loaded artist model: ``rebuild(vertices, triangles, budget, ...)`` -> ArtistResult."""

    def __init__(self, model, name: str):
        self.model = model.eval()
        self.name = name
        self.cfg = model.cfg

    def rebuild(self, vertices: np.ndarray, triangles: np.ndarray, budget: int, seed: int = 0,
                temperature: float = 0.0, top_p: float = 0.0, constrained: bool = False, coverage: float = 0.0,
                ask: float = 0.85, progress=None, cancel=None) -> ArtistResult:
        """Generate a mesh for the surface (vertices, triangles) with at most ``budget`` faces
        (and at most the model's own limit). The model's face-count token asks for ``ask`` of the
        budget.

        ``constrained``: decode under ``MeshConstraints`` (vertices and faces on the input, no
        repeated, degenerate or non-manifold faces, closed when the input is, ``coverage`` of the
        input near a face before the end)."""
        import torch

        began = time.perf_counter()
        triangles = np.asarray(triangles, np.int64)
        frame = normalization(np.asarray(vertices, np.float64))
        rng = np.random.default_rng(seed)
        points = condition_points(vertices, triangles, frame, self.cfg.points, rng)
        constraints = None
        if constrained:
            surface = condition_points(vertices, triangles, frame, SURFACE_SAMPLES, rng)[:, :3]
            constraints = MeshConstraints(self.cfg.spec, surface, boundary_edge_count(triangles) == 0,
                                          coverage=coverage)
        want = max(4, int(ask * min(budget, self.cfg.max_faces)))
        device = next(self.model.parameters()).device
        tensor = torch.from_numpy(points.astype(np.float32))[None].to(device)
        reader, tokens = self.model.generate(tensor, want, max_faces=min(budget, self.cfg.max_faces),
                                             temperature=temperature, top_k=50 if temperature > 0 else 0,
                                             top_p=top_p, seed=seed, constraints=constraints,
                                             progress=progress, cancel=cancel)
        quant = reader.mesh(self.cfg.levels, *frame)
        complete = reader.done or (reader.need == 0 and len(tokens) < self.cfg.max_tokens - 1)
        stats = None if constraints is None else {"covered": float(constraints.covered.mean()),
                                                  "relaxed": constraints.relaxed}
        return ArtistResult(quant.positions(), list(quant.faces), len(tokens), time.perf_counter() - began,
                            complete, stats)
