"""Training samples for ``kiln-parts-s``: procedural assets as the meshes a user would send.

Each sample is one asset of the procedural engine, extracted as a watertight marching-cubes mesh
(so connected components cannot split it), then changed the way user meshes differ: decimated
(quadric collapse), subdivided (re-extracted at 40-72 cells, so tessellations differ), jittered with noise, squashed per axis and turned
about the vertical axis. Every face of the changed mesh is labelled by the asset's own SDF (the
part nearest its centroid), so labels stay exact whatever the mesh became; a semantic part split
into connected pieces gives the instances (each leg its own part).

Surface points are sampled on the changed mesh with its face normals and normalised like the
model's input (see :func:`normalise`).

Held out: asset seeds below ``HELD_OUT_SEEDS`` are never trained on (bench/parts.py measures on
seeds 0, 1, ...); training seeds come from ``sample_seed(TRAIN_STREAM, i)`` and skip that range.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.geometry.decimate import subdivide_to
from backend.geometry.mesh_graph import face_graph, split_into_connected
from backend.geometry.surface_distance import sample_surface

HELD_OUT_SEEDS = 1000   # seeds 0..999: bench and tuning only, never trained on
TRAIN_STREAM = 12
MIN_INSTANCE_SHARE = 0.004  # instances smaller than this share of the area get no contrastive pull
UNKNOWN = "part"


def vocabulary(seeds: int = 24) -> list[str]:
    """Every part name the procedural engine uses (scanned over ``seeds`` seeds per category),
    sorted, after ``UNKNOWN`` at index 0."""
    from backend.procedural.registry import categories, generate

    names = set()
    for category in categories():
        for seed in range(HELD_OUT_SEEDS, HELD_OUT_SEEDS + seeds):
            names.update(generate(category, seed).part_names)
    names.discard(UNKNOWN)
    return [UNKNOWN] + sorted(names)


def train_seed(index: int) -> int:
    """The asset seed of training sample ``index`` (never below ``HELD_OUT_SEEDS``)."""
    from backend.procedural.sample import sample_seed

    seed = sample_seed(TRAIN_STREAM, index)
    return seed if seed >= HELD_OUT_SEEDS else seed + HELD_OUT_SEEDS


def normalise(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(points centred on their bbox with the longest side spanning [-1, 1], centre, scale)."""
    lo, hi = points.min(0), points.max(0)
    centre = (lo + hi) / 2
    scale = 2.0 / max(float((hi - lo).max()), 1e-12)
    return ((points - centre) * scale).astype(np.float32), centre, scale


def user_like(vertices: np.ndarray, faces: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray, str]:
    """The marching-cubes mesh changed like a user's mesh; returns (vertices, faces, what)."""
    import fast_simplification

    v, f = vertices.astype(np.float64), faces.astype(np.int64)
    what = []
    roll = rng.random()
    if roll < 0.45:
        target = int(rng.choice([600, 1500, 4000, 10000]))
        if target < len(f):
            v, f = fast_simplification.simplify(v, f.astype(np.int32), 1.0 - target / len(f))
            v, f = np.asarray(v, np.float64), np.asarray(f, np.int64)
            what.append(f"decimated {target}")
    elif roll < 0.6:
        v, f = subdivide_to(v, f, 2 * len(f))
        what.append("subdivided")
    if rng.random() < 0.4:
        normals = np.zeros_like(v)
        tri = v[f]
        cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        for k in range(3):
            np.add.at(normals, f[:, k], cross)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        amount = float(rng.uniform(0.001, 0.006)) * float(np.linalg.norm(v.max(0) - v.min(0)))
        v = v + normals * rng.normal(size=(len(v), 1)) * amount
        what.append("noisy")
    return v, f, ", ".join(what) or "marching cubes"


def label_faces(asset, vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(semantic part index per face, instance per face (-1 for slivers), face areas)."""
    tri = vertices[faces]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    semantic = asset.labels(tri.mean(axis=1)).astype(np.int64)
    graph = face_graph(vertices, faces)
    instance = split_into_connected(semantic, graph.pairs)
    share = np.bincount(instance, weights=areas) / max(float(areas.sum()), 1e-30)
    instance = np.where(share[instance] >= MIN_INSTANCE_SHARE, instance, -1)
    return semantic, instance, areas


def make_part_sample(category: str, seed: int, vocab: list[str], points: int = 4096,
                     resolution: int | None = None) -> dict[str, np.ndarray]:
    """One training sample: normalised points (P,3), normals (P,3), instance (P,) int16 (-1 = none),
    name (P,) int16 index into ``vocab``; all float32 / int16."""
    from backend.procedural.meshing import watertight_mesh
    from backend.procedural.registry import generate

    rng = np.random.default_rng(seed)
    asset = generate(category, seed)
    res = resolution or int(rng.choice([40, 48, 56, 64, 72]))
    vertices, faces, _ = watertight_mesh(asset, res)
    v, f, what = user_like(vertices, faces, rng)
    semantic, instance, _ = label_faces(asset, v, f)
    names = np.array([vocab.index(n) if n in vocab else 0 for n in asset.part_names], dtype=np.int16)
    # The user's object: turned about z, squashed a little per axis.
    angle = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(angle), np.sin(angle)
    transform = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag(rng.uniform(0.85, 1.15, 3))
    v = v @ transform.T
    pts, face_ids = sample_surface(v, f, points, int(rng.integers(1 << 31)))
    tri = v[f[face_ids]]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    pts, _, _ = normalise(pts)
    return {"points": pts, "normals": normals.astype(np.float32),
            "instance": instance[face_ids].astype(np.int16), "name": names[semantic[face_ids]],
            "category": np.array(category), "what": np.array(what)}


def save_sample(path: Path, sample: dict) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **sample)
    tmp.replace(path)


def load_sample(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
