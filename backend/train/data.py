"""Training data for the shape models, from a procedural dataset folder (``backend.procedural.dataset``).

Every sample is already normalised (longest side spans [-0.9, 0.9], z up) and carries exact
surface points + normals and signed-distance samples near and far from the surface. The split is
deterministic: a sample is held out when a hash of its index falls in the held-out fraction, so
the same samples are held out whatever the dataset size or the number of training processes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch


def is_held_out(index: int, fraction: float) -> bool:
    """Deterministic split: True for about ``fraction`` of all indices."""
    digest = hashlib.sha256(f"kiln-split-{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") / 2 ** 32 < fraction


def split_indices(count: int, held_out: float) -> tuple[list[int], list[int]]:
    """(train, held-out) sample indices; never leaves either side empty when count >= 2."""
    val = [i for i in range(count) if is_held_out(i, held_out)]
    if held_out > 0 and not val and count >= 2:
        val = [count - 1]
    train = [i for i in range(count) if i not in set(val)]
    if not train:
        raise ValueError(f"a dataset of {count} samples leaves nothing to train on")
    return train, val


def open_dataset(path):
    """The dataset at ``path`` (clear error when it is not one); several folders joined by commas
    (e.g. a procedural set and a package-mesh set) read as one, in the order given."""
    from backend.procedural.dataset import ProceduralDataset

    folders = [p for p in str(path).split(",") if p.strip()]
    if len(folders) == 1:
        return ProceduralDataset(folders[0])
    return JoinedDatasets([ProceduralDataset(p.strip()) for p in folders])


class JoinedDatasets:
    """Datasets read one after another: ``ds[i]`` is sample ``i`` of the concatenation (the first
    dataset keeps its indices, hence its held-out split)."""

    def __init__(self, parts):
        self.parts = list(parts)
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])
        self.manifest = {"parts": [p.manifest for p in self.parts], "count": int(self.starts[-1])}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range [0, {len(self)})")
        part = int(np.searchsorted(self.starts, index, side="right") - 1)
        return self.parts[part][int(index - self.starts[part])]


@dataclass
class ShapeArrays:
    """In-memory geometry of a set of samples, stacked along the first axis."""

    indices: np.ndarray          # dataset indices (S,)
    surface_points: np.ndarray   # (S, Ns, 3)
    surface_normals: np.ndarray  # (S, Ns, 3)
    near_points: np.ndarray      # (S, Nn, 3)
    near_sdf: np.ndarray         # (S, Nn)
    far_points: np.ndarray       # (S, Nf, 3)
    far_sdf: np.ndarray          # (S, Nf)

    def __len__(self) -> int:
        return len(self.indices)


def load_shapes(dataset, indices, progress=None, cancel=None) -> ShapeArrays:
    """Read the geometry arrays of ``indices`` from ``dataset`` into memory (float32)."""
    names = ("surface_points", "surface_normals", "near_points", "near_sdf", "far_points", "far_sdf")
    columns = {name: [] for name in names}
    for n, index in enumerate(indices):
        if cancel is not None and n % 32 == 0:
            cancel.check()
        item = dataset[int(index)]
        for name in names:
            columns[name].append(np.asarray(item[name], dtype=np.float32))
        if progress is not None and n % 64 == 0:
            progress(n / max(len(indices), 1), "load", f"{n}/{len(indices)} samples")
    return ShapeArrays(np.asarray(indices), *(np.stack(columns[name]) for name in names))


@dataclass
class VAEBatch:
    points: torch.Tensor     # (B, N, 3) surface points fed to the encoder
    normals: torch.Tensor    # (B, N, 3)
    queries: torch.Tensor    # (B, Q, 3) near + far + on-surface query points
    sdf: torch.Tensor        # (B, Q) their signed distances
    near_count: int          # the first ``near_count`` queries (near + surface) are near the surface


def vae_batch(shapes: ShapeArrays, rows: np.ndarray, rng: np.random.Generator, num_points: int,
              num_near: int, num_far: int, num_surface: int) -> VAEBatch:
    """Random point subsets of the samples ``rows`` for one VAE step."""
    def pick(array, count):
        take = rng.integers(0, array.shape[1], size=(len(rows), count))
        return np.take_along_axis(array[rows], take[..., None] if array.ndim == 3 else take, axis=1)

    surface_idx = rng.integers(0, shapes.surface_points.shape[1], size=(len(rows), num_points))
    points = np.take_along_axis(shapes.surface_points[rows], surface_idx[..., None], axis=1)
    normals = np.take_along_axis(shapes.surface_normals[rows], surface_idx[..., None], axis=1)
    near_idx = rng.integers(0, shapes.near_points.shape[1], size=(len(rows), num_near))
    far_idx = rng.integers(0, shapes.far_points.shape[1], size=(len(rows), num_far))
    on_surface = pick(shapes.surface_points, num_surface)
    queries = np.concatenate([
        np.take_along_axis(shapes.near_points[rows], near_idx[..., None], axis=1), on_surface,
        np.take_along_axis(shapes.far_points[rows], far_idx[..., None], axis=1)], axis=1)
    sdf = np.concatenate([np.take_along_axis(shapes.near_sdf[rows], near_idx, axis=1),
                          np.zeros((len(rows), num_surface), dtype=np.float32),
                          np.take_along_axis(shapes.far_sdf[rows], far_idx, axis=1)], axis=1)
    return VAEBatch(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (points, normals, queries, sdf)),
                    near_count=num_near + num_surface)
