"""Training examples for the artist mesh transformer: procedural artist meshes and game meshes.

An example is (points + normals (N,6) in the mesh's normalised frame, face-count bucket, tokens
BOS..EOS). Meshes are augmented (quarter turns about z, a mirror, a per-axis stretch) before they
are quantised, so the tokens and the points always agree. Meshes over the model's face or token
limit are skipped.
"""
from __future__ import annotations

import numpy as np

from backend.geometry.quad_pairing import pair_triangles
from backend.models.artist_mesh import ArtistConfig, count_bucket
from backend.models.artist_pipeline import condition_points, fan_triangles
from backend.models.mesh_tokens import BOS, EOS, encode, normalization, quantize_mesh


def procedural_mesh(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The artist mesh (positions, face sizes, face indices) of procedural asset ``seed``
    (categories in turn)."""
    from backend.procedural.registry import categories, generate

    names = list(categories())
    mesh = generate(names[seed % len(names)], seed).artist_mesh()
    return mesh.positions.astype(np.float64), mesh.face_sizes, mesh.face_indices


GAME_SOURCES = ("0ad", "supertuxkart")


def game_meshes(split_name: str, max_triangles: int, progress=None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, welded positions, triangles) of the 0 A.D. and SuperTuxKart meshes in ``split_name``
    ("train" or "held_out", ``backend.datasets.sources.split``) with at most ``max_triangles``
    triangles. Unreadable meshes are skipped; held-out evaluation sets never come back (the
    readers refuse them)."""
    from backend.datasets.sources import discover, load_mesh, split
    from backend.geometry.mesh_graph import weld

    out = []
    refs = [r for r in discover(GAME_SOURCES) if split(r) == split_name]
    for k, ref in enumerate(refs):
        if progress is not None and k % 200 == 0:
            progress(k, len(refs))
        try:
            positions, triangles = load_mesh(ref)
        except (ValueError, OSError):
            continue
        if not 4 <= len(triangles) <= max_triangles:
            continue
        positions, triangles = weld(positions, triangles, 1e-6)
        out.append((ref.name, positions, triangles))
    return out


def quads_from_triangles(positions: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A triangulated game mesh's quads recovered: coplanar (fold <= 2 degrees) convex triangle
    pairs become quads. Returns (face sizes, face indices)."""
    quads, tris = pair_triangles(positions, triangles, max_fold=2.0, min_corner=20.0, max_corner=160.0)
    sizes = np.concatenate([np.full(len(quads), 4), np.full(len(tris), 3)])
    return sizes, np.concatenate([quads.reshape(-1), tris.reshape(-1)]).astype(np.int64)


def augment(positions: np.ndarray, sizes: np.ndarray, indices: np.ndarray,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(positions, indices): a random quarter turn about z, maybe a mirror in x (winding
    reversed), a stretch of 0.75-1 per axis."""
    p = positions - positions.mean(0)
    k = int(rng.integers(4))
    c, s = [1, 0, -1, 0][k], [0, 1, 0, -1][k]
    p = p @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64).T
    p = p * rng.uniform(0.75, 1.0, size=3)
    if rng.random() < 0.5:
        p[:, 0] = -p[:, 0]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        indices = np.concatenate([indices[a:b][::-1] for a, b in zip(starts[:-1], starts[1:])])
    return p, indices


def make_example(positions, sizes, indices, cfg: ArtistConfig, rng: np.random.Generator,
                 augmented: bool = True) -> dict | None:
    """One training example, or None when the mesh is over the face or token limit."""
    if augmented:
        positions, indices = augment(positions, sizes, indices, rng)
    frame = normalization(positions)
    quant = quantize_mesh(positions, sizes, indices, cfg.levels, frame)
    if not quant.faces or len(quant.faces) > cfg.max_faces:
        return None
    tokens = encode(quant, cfg.spec)
    if len(tokens) + 2 > cfg.max_tokens:
        return None
    tris = fan_triangles(sizes, indices)
    points = condition_points(positions, tris, frame, cfg.points, rng)
    return {"points": points.astype(np.float32), "count": count_bucket(len(quant.faces), cfg.count_buckets),
            "tokens": np.concatenate([[BOS], tokens, [EOS]]).astype(np.int64), "faces": len(quant.faces)}
