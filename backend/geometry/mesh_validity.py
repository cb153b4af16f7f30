"""Checks a generated polygon mesh must pass before it is handed out, and the cleanup allowed first.

``snap_to_surface`` moves vertices onto the input, ``weld_close`` merges the ones that meet there;
``cleanup`` drops what is plainly a
generator's slip (faces that repeat a vertex or have no area, a face repeating another's
vertices) and unused vertices; ``drop_conflicting`` drops faces that would flip the winding or
make an edge non-manifold; ``problems`` lists what is still wrong:
edges used by more than two faces or twice in one direction (inconsistent winding), open edges
when the input was closed, more faces than the budget; ``stacked_faces`` finds faces lying on
other faces (a pile of overlapping quads passes every edge check). ``deviation`` measures how far
the mesh strays from the input surface, both ways.
"""
from __future__ import annotations

import numpy as np


def face_list(face_sizes: np.ndarray, face_indices: np.ndarray) -> list[tuple[int, ...]]:
    starts = np.concatenate([[0], np.cumsum(face_sizes)])
    return [tuple(int(v) for v in face_indices[a:b]) for a, b in zip(starts[:-1], starts[1:])]


def _area(positions: np.ndarray, face: tuple[int, ...]) -> float:
    p = positions[list(face)]
    return 0.5 * float(np.linalg.norm(np.cross(p, np.roll(p, -1, axis=0)).sum(axis=0)))


def cleanup(positions: np.ndarray, faces: list[tuple[int, ...]], min_area: float
            ) -> tuple[np.ndarray, list[tuple[int, ...]], dict[str, int]]:
    """(positions, faces, counts of what was dropped): degenerate and duplicate faces removed,
    unused vertices dropped."""
    kept, seen = [], set()
    dropped = {"degenerate": 0, "duplicate": 0}
    for f in faces:
        if len(f) < 3 or len(set(f)) < len(f) or _area(positions, f) <= min_area:
            dropped["degenerate"] += 1
            continue
        key = frozenset(f)
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        kept.append(f)
    used = sorted({v for f in kept for v in f})
    remap = {v: i for i, v in enumerate(used)}
    return positions[used], [tuple(remap[v] for v in f) for f in kept], dropped


def snap_to_surface(positions: np.ndarray, ref_vertices: np.ndarray, ref_triangles: np.ndarray,
                    limit: float) -> np.ndarray:
    """Each vertex moved to its closest point on the reference surface when that is at most
    ``limit`` away (vertices farther off stay, for the checks to judge)."""
    from .surface_distance import SurfaceQuery

    query = SurfaceQuery(ref_vertices, ref_triangles, samples=20_000, thorough=False)
    closest, _ = query.closest_points(positions)
    near = np.linalg.norm(closest - positions, axis=1) <= limit
    return np.where(near[:, None], closest, positions)


def weld_close(positions: np.ndarray, faces: list[tuple[int, ...]], tolerance: float
               ) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Vertices closer than about ``tolerance`` merged (grid rounding), faces re-indexed (a face
    may come out degenerate: ``cleanup`` drops it)."""
    from .repair import weld

    merged, remap, _ = weld(np.asarray(positions, np.float64), np.arange(len(positions)), tolerance)
    return merged, [tuple(int(remap[v]) for v in f) for f in faces]


def drop_conflicting(faces: list[tuple[int, ...]]) -> tuple[list[tuple[int, ...]], int]:
    """(faces, how many dropped): in order, a face is kept only when none of its edges is already
    used in the same direction or by two kept faces (no winding flips, no non-manifold edges)."""
    directed, undirected, kept = set(), {}, []
    for f in faces:
        edges = [(f[i], f[(i + 1) % len(f)]) for i in range(len(f))]
        keys = [(a, b) if a < b else (b, a) for a, b in edges]
        if any(e in directed for e in edges) or any(undirected.get(k, 0) >= 2 for k in keys):
            continue
        directed.update(edges)
        for k in keys:
            undirected[k] = undirected.get(k, 0) + 1
        kept.append(f)
    return kept, len(faces) - len(kept)


def edge_counts(faces: list[tuple[int, ...]]) -> tuple[dict, dict]:
    """(directed edge -> uses, undirected edge -> uses)."""
    directed: dict[tuple[int, int], int] = {}
    undirected: dict[tuple[int, int], int] = {}
    for f in faces:
        for i in range(len(f)):
            a, b = f[i], f[(i + 1) % len(f)]
            directed[(a, b)] = directed.get((a, b), 0) + 1
            key = (a, b) if a < b else (b, a)
            undirected[key] = undirected.get(key, 0) + 1
    return directed, undirected


def problems(positions: np.ndarray, faces: list[tuple[int, ...]], budget: int, closed: bool,
             min_area: float) -> list[str]:
    """What is wrong with the mesh (empty when it passes every check)."""
    out = []
    if not faces:
        return ["no faces"]
    if len(faces) > budget:
        out.append(f"{len(faces)} faces over the budget of {budget}")
    bad = sum(1 for f in faces if len(set(f)) < len(f) or _area(positions, f) <= min_area)
    if bad:
        out.append(f"{bad} degenerate faces")
    if len({frozenset(f) for f in faces}) < len(faces):
        out.append("duplicate faces")
    directed, undirected = edge_counts(faces)
    if any(n > 1 for n in directed.values()):
        out.append("inconsistent winding (an edge used twice in one direction)")
    if any(n > 2 for n in undirected.values()):
        out.append("non-manifold edges")
    if closed:
        open_edges = sum(1 for n in undirected.values() if n == 1)
        if open_edges:
            out.append(f"{open_edges} open edges where the input was closed")
    return out


def deviation(positions: np.ndarray, faces: list[tuple[int, ...]], ref_vertices: np.ndarray,
              ref_triangles: np.ndarray, samples: int = 4000, seed: int = 0) -> tuple[float, float]:
    """(largest distance from the mesh to the reference, 95th percentile of the reference's
    distance to the mesh), both divided by the reference's bounding-box diagonal. The first finds
    faces where there is no surface, the second surface the mesh left out."""
    from .surface_distance import SurfaceQuery, sample_surface

    tris = np.array([(f[0], f[k], f[k + 1]) for f in faces for k in range(1, len(f) - 1)], np.int64)
    diag = float(np.linalg.norm(ref_vertices.max(0) - ref_vertices.min(0))) or 1.0
    ref = SurfaceQuery(ref_vertices, ref_triangles, samples=4 * samples, seed=seed)
    mine = SurfaceQuery(positions, tris, samples=4 * samples, seed=seed + 1)
    out_pts, _ = sample_surface(positions, tris, samples, seed + 2)
    ref_pts, _ = sample_surface(ref_vertices, ref_triangles, samples, seed + 3)
    return (float(ref.distance(np.concatenate([out_pts, positions])).max()) / diag,
            float(np.percentile(mine.distance(ref_pts), 95)) / diag)


STACK_COS = np.cos(np.radians(20.0))  # normals within 20 degrees (same or opposite) count as parallel
_STACK_SAMPLES = np.array([[1 / 3, 1 / 3, 1 / 3], [2 / 3, 1 / 6, 1 / 6], [1 / 6, 2 / 3, 1 / 6], [1 / 6, 1 / 6, 2 / 3]])


def stacked_faces(positions: np.ndarray, faces: list[tuple[int, ...]], tolerance: float) -> int:
    """How many faces have an interior sample point within ``tolerance`` of another face that
    shares no vertex with it and whose normal is parallel (same or opposite direction): faces
    piled on each other or on their own back."""
    from scipy.spatial import cKDTree

    from .surface_distance import closest_points_on_triangles

    tris = np.array([(f[0], f[k], f[k + 1]) for f in faces for k in range(1, len(f) - 1)], np.int64).reshape(-1, 3)
    owner = np.array([i for i, f in enumerate(faces) for _ in range(len(f) - 2)], np.int64)
    if len(tris) < 2:
        return 0
    corners = np.asarray(positions, np.float64)[tris]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    centroids = corners.mean(axis=1)
    reach = float(np.linalg.norm(corners - centroids[:, None], axis=2).max()) + tolerance
    samples = np.einsum("sk,tkd->tsd", _STACK_SAMPLES, corners).reshape(-1, 3)
    sample_tri = np.repeat(np.arange(len(tris)), len(_STACK_SAMPLES))
    pairs = cKDTree(centroids).query_ball_point(samples, reach)
    src = np.repeat(sample_tri, [len(p) for p in pairs])
    dst = np.fromiter((j for p in pairs for j in p), np.int64, count=len(src))
    point = np.repeat(np.arange(len(samples)), [len(p) for p in pairs])
    faces_of = [set(f) for f in faces]
    keep = (owner[src] != owner[dst]) & (np.abs(np.einsum("ij,ij->i", normals[src], normals[dst])) >= STACK_COS)
    keep[keep] = [not (faces_of[owner[a]] & faces_of[owner[b]]) for a, b in zip(src[keep], dst[keep])]
    src, dst, point = src[keep], dst[keep], point[keep]
    near = closest_points_on_triangles(samples[point], corners[dst, 0], corners[dst, 1], corners[dst, 2])
    close = np.linalg.norm(samples[point] - near, axis=1) <= tolerance
    return len(np.unique(owner[src[close]]))
