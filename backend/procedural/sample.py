"""One training sample: an asset's geometry, labels, materials and captions as numpy arrays.

Coordinates of every array are normalised: the watertight mesh's bounding box is centred at the
origin and its longest side spans [-0.9, 0.9] (z up, as in Blender). ``center`` and ``scale``
map back to metres: ``metres = points / scale + center``. The artist mesh's GLB copy is in metres; the watertight mesh is stored as arrays only (a GLB
copy doubled the shard size) and ``ProceduralDataset.watertight_mesh(i)`` rebuilds it with parts
and materials for ``shared.glb.write_glb``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from shared.glb import write_glb

from .captions import captions
from .meshing import surface_samples, watertight_mesh
from .registry import generate

HALF_EXTENT = 0.9


@dataclass(frozen=True)
class SampleConfig:
    """Point counts and resolution of a sample; recorded in the dataset manifest."""

    surface: int = 8192            # exact surface points (+ normals, part labels)
    near: int = 8192               # points jittered around the surface (+ SDF, occupancy, labels)
    far: int = 4096                # uniform points in [-1, 1]^3 (+ SDF, occupancy, labels)
    near_sigmas: tuple[float, ...] = (0.005, 0.02, 0.06)   # normalised units; split evenly
    resolution: int = 128          # marching-cubes cells per axis of the watertight mesh
    glb: bool = True               # also store the artist mesh as GLB bytes

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def sample_seed(dataset_seed: int, index: int) -> int:
    """The asset seed of sample ``index`` (independent streams per index)."""
    return int(np.random.SeedSequence([int(dataset_seed), int(index)]).generate_state(1)[0])


def make_sample(category: str, seed: int, config: SampleConfig = SampleConfig()) -> dict:
    """Build the asset and everything a model trains on. Returns {'arrays': {...}, 'meta': {...}}."""
    rng = np.random.default_rng(seed)
    asset = generate(category, seed)
    vertices, faces, face_parts = watertight_mesh(asset, config.resolution)
    lo, hi = vertices.min(0).astype(np.float64), vertices.max(0).astype(np.float64)
    center = (lo + hi) / 2
    scale = 2 * HALF_EXTENT / float((hi - lo).max())

    def world(p):
        return p / scale + center

    surface, normals, surface_labels = surface_samples(asset, vertices, faces, config.surface, seed)
    anchors, _, _ = surface_samples(asset, vertices, faces, config.near, seed + 1)
    sigmas = np.repeat(np.asarray(config.near_sigmas), -(-config.near // len(config.near_sigmas)))[:config.near]
    near = (anchors - center) * scale + rng.normal(size=(config.near, 3)) * sigmas[:, None]
    far = rng.uniform(-1.0, 1.0, size=(config.far, 3))
    near_sdf, near_labels = asset.nearest(world(near))
    far_sdf, far_labels = asset.nearest(world(far))
    near_sdf, far_sdf = near_sdf * scale, far_sdf * scale

    artist = asset.artist_mesh()
    arrays = {
        "surface_points": ((surface - center) * scale).astype(np.float32),
        "surface_normals": normals.astype(np.float32),
        "surface_labels": surface_labels,
        "near_points": near.astype(np.float32), "near_sdf": near_sdf.astype(np.float32),
        "near_occupancy": (near_sdf < 0).astype(np.uint8), "near_labels": near_labels,
        "far_points": far.astype(np.float32), "far_sdf": far_sdf.astype(np.float32),
        "far_occupancy": (far_sdf < 0).astype(np.uint8), "far_labels": far_labels,
        "center": center.astype(np.float32), "scale": np.float32(scale),
        "mesh_vertices": ((vertices - center) * scale).astype(np.float32),
        "mesh_faces": faces.astype(np.int32), "mesh_face_labels": face_parts.astype(np.int32),
        "artist_positions": ((artist.positions - center) * scale).astype(np.float32),
        "artist_face_sizes": artist.face_sizes, "artist_face_indices": artist.face_indices,
        "artist_corner_uvs": artist.corner_uvs, "artist_part_ids": artist.part_ids,
    }
    meta = {"category": category, "seed": int(seed), "captions": captions(asset, seed),
            "part_names": asset.part_names, "materials": [p.material.to_json() for p in asset.parts],
            "part_families": [p.family for p in asset.parts], "attributes": asset.describe()}
    if config.glb:
        arrays["artist_glb"] = np.frombuffer(write_glb(artist), dtype=np.uint8)
    return {"arrays": arrays, "meta": meta}
