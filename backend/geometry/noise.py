"""Solid (3D) gradient noise and fractal sums for procedural materials, vectorised numpy.

Perlin-style: pseudo-random unit gradients on an integer lattice (hashed from a seed), quintic
fade, trilinear blend. Values are roughly in [-1, 1]; the same point always gives the same value.
"""
from __future__ import annotations

import numpy as np


def _gradients(seed: int, count: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(count, 3))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    perm = rng.permutation(count)
    return g, np.concatenate([perm, perm])


def gradient_noise(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """Noise value per point (N,3) -> (N,)."""
    grads, perm = _gradients(seed)
    gx, gy, gz = (np.ascontiguousarray(grads[:, k]) for k in range(3))
    p = np.asarray(points, dtype=np.float64)
    cell = np.floor(p)
    f = p - cell
    fade = f * f * f * (f * (f * 6 - 15) + 10)
    ci = cell.astype(np.int64) & 255
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    result = np.zeros(len(p))
    hx = (perm[ci[:, 0]], perm[ci[:, 0] + 1])
    for dx in (0, 1):
        wx = fade[:, 0] if dx else 1 - fade[:, 0]
        ox = fx - dx
        for dy in (0, 1):
            wxy = wx * (fade[:, 1] if dy else 1 - fade[:, 1])
            oy = fy - dy
            hxy = perm[hx[dx] + ((ci[:, 1] + dy) & 255)]
            for dz in (0, 1):
                h = perm[hxy + ((ci[:, 2] + dz) & 255)]
                dot = gx[h] * ox + gy[h] * oy + gz[h] * (fz - dz)
                result += wxy * (fade[:, 2] if dz else 1 - fade[:, 2]) * dot
    return result * 1.6


def fbm(points: np.ndarray, octaves: int = 4, seed: int = 0, lacunarity: float = 2.0, gain: float = 0.5) -> np.ndarray:
    """Fractal Brownian motion: a sum of ``octaves`` noise layers at rising frequency."""
    total = np.zeros(len(points))
    amplitude, frequency, norm = 1.0, 1.0, 0.0
    for octave in range(octaves):
        total += amplitude * gradient_noise(np.asarray(points) * frequency, seed + octave)
        norm += amplitude
        amplitude *= gain
        frequency *= lacunarity
    return total / norm
