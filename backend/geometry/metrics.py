"""Mesh quality metrics for retopology (and, later, segmentation).

Geometry: Hausdorff and Chamfer distance between two surfaces, relative to the reference's
bounding-box diagonal. Topology (on the mesh welded by exact position): quad ratio, share of
regular vertices, singular vertices, Euler characteristic, boundary and non-manifold edges.

Definitions (the same for every tool we compare, so the numbers are comparable):
- ``hausdorff``: max over both directions of the point-to-surface distance, sampled on both
  surfaces (area-weighted samples plus all vertices), divided by the reference's bbox diagonal.
- ``chamfer``: mean of the two directions' mean distances, divided by the same diagonal.
- ``valence4_share``: interior vertices with exactly 4 edges / all interior vertices.
- ``singular_vertices``: interior vertices with valence != 4 plus boundary vertices with
  valence not in {2, 3} (a straight quad boundary has valence 3, a corner 2).
- ``euler``: V - E + F (2 for a sphere, 0 for a torus; per closed component 2 - 2*genus).
- ``face_count_error``: |F - target| / target.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

import numpy as np

from shared.payload import MeshPayload

from .polymesh import bbox_diagonal, undirected_edges, weld_positions
from .surface_distance import SurfaceQuery, sample_surface
from .surface_fit import boundary_pieces


@dataclass
class TopologyStats:
    """Counts describing a polygon mesh's connectivity."""

    vertices: int
    faces: int
    edges: int
    quad_ratio: float
    valence4_share: float
    singular_vertices: int
    euler: int
    boundary_edges: int
    nonmanifold_edges: int

    def as_dict(self) -> dict:
        return asdict(self)


def topology_stats(mesh: MeshPayload) -> TopologyStats:
    """Connectivity statistics of ``mesh`` after welding bit-identical vertex positions."""
    positions, indices = weld_positions(mesh.positions, mesh.face_indices)
    sizes = mesh.face_sizes
    used = np.unique(indices)
    edges, counts = undirected_edges(sizes, indices)
    num_v = len(used)
    valence = np.bincount(edges.reshape(-1), minlength=len(positions))
    on_boundary = np.zeros(len(positions), bool)
    on_boundary[edges[counts == 1].reshape(-1)] = True
    is_used = np.zeros(len(positions), bool)
    is_used[used] = True
    interior = is_used & ~on_boundary
    boundary = is_used & on_boundary
    interior_val = valence[interior]
    singular = int(np.count_nonzero(interior_val != 4) + np.count_nonzero(~np.isin(valence[boundary], (2, 3))))
    faces = len(sizes)
    return TopologyStats(
        vertices=int(num_v), faces=int(faces), edges=int(len(edges)),
        quad_ratio=float(np.count_nonzero(sizes == 4) / faces) if faces else 0.0,
        valence4_share=float(np.count_nonzero(interior_val == 4) / len(interior_val)) if len(interior_val) else 0.0,
        singular_vertices=singular,
        euler=int(num_v - len(edges) + faces),
        boundary_edges=int(np.count_nonzero(counts == 1)),
        nonmanifold_edges=int(np.count_nonzero(counts > 2)))


@dataclass
class DistanceStats:
    """Two-sided surface distance, relative to the reference's bounding-box diagonal."""

    hausdorff: float
    chamfer: float
    diagonal: float

    def as_dict(self) -> dict:
        return asdict(self)


def _surface_points(mesh: MeshPayload, count: int, seed: int) -> np.ndarray:
    tris = mesh.triangulated()
    samples, _ = sample_surface(mesh.positions, tris, count, seed)
    return np.concatenate([samples, np.asarray(mesh.positions, dtype=np.float64)[np.unique(tris)]])


def surface_distance(result: MeshPayload, reference: MeshPayload, samples: int = 50_000,
                     seed: int = 0) -> DistanceStats:
    """Hausdorff and Chamfer distance between two meshes, divided by the reference's bbox diagonal."""
    diagonal = bbox_diagonal(reference.positions)
    if diagonal <= 0:
        raise ValueError("reference mesh has a zero-size bounding box")
    to_ref = SurfaceQuery(reference.positions, reference.triangulated(), samples=2 * samples, seed=seed)
    to_res = SurfaceQuery(result.positions, result.triangulated(), samples=2 * samples, seed=seed + 1)
    d_res = to_ref.distance(_surface_points(result, samples, seed + 2))
    d_ref = to_res.distance(_surface_points(reference, samples, seed + 3))
    return DistanceStats(hausdorff=float(max(d_res.max(), d_ref.max()) / diagonal),
                         chamfer=float(0.5 * (d_res.mean() + d_ref.mean()) / diagonal),
                         diagonal=diagonal)


def face_count_error(mesh: MeshPayload, target: int) -> float:
    """|faces - target| / target."""
    return abs(mesh.num_faces - target) / max(target, 1)


def retopo_report(result: MeshPayload, reference: MeshPayload, target: int, samples: int = 50_000) -> dict:
    """Every retopology metric of ``result`` against ``reference`` as one flat dict."""
    out = topology_stats(result).as_dict()
    out.update(surface_distance(result, reference, samples=samples).as_dict())
    out["face_count_error"] = face_count_error(result, target)
    return out


def _boundary_points(mesh: MeshPayload, spacing: float, min_hole: float = 0.0) -> np.ndarray:
    """Points every ``spacing`` along the open-boundary edges of ``mesh`` (welded by position),
    leaving out connected boundary pieces shorter than ``min_hole``."""
    positions, indices = weld_positions(mesh.positions, mesh.face_indices)
    edges, counts = undirected_edges(mesh.face_sizes, indices)
    edges = edges[counts == 1]
    if len(edges) and min_hole > 0:
        piece, length = boundary_pieces(np.asarray(positions, np.float64), edges)
        edges = edges[length[piece] >= min_hole]
    ends = np.asarray(positions, np.float64)[edges]
    if len(ends) == 0:
        return np.zeros((0, 3))
    steps = np.maximum(np.ceil(np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1) / spacing), 1).astype(int)
    t = np.concatenate([np.arange(n + 1) / n for n in steps])
    owner = np.repeat(np.arange(len(ends)), steps + 1)
    return ends[owner, 0] + t[:, None] * (ends[owner, 1] - ends[owner, 0])


def boundary_deviation(result: MeshPayload, reference: MeshPayload, min_hole: float = 0.0) -> float:
    """How far the open boundaries moved: the two-sided Hausdorff distance between the boundary
    curves of ``result`` and ``reference``, divided by the reference's bbox diagonal. 0 when
    neither has a boundary, inf when only one has. ``min_hole`` (a length): holes of the
    reference shorter around than that need not be in the result (a remesh may close a hole
    smaller than its faces): their rims are not measured against the result's, while every rim
    of the result is still measured against all of the reference's."""
    from scipy.spatial import cKDTree

    diagonal = bbox_diagonal(reference.positions)
    spacing = 1e-3 * diagonal
    a, b = _boundary_points(result, spacing), _boundary_points(reference, spacing)
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else float("inf")
    kept = _boundary_points(reference, spacing, min_hole) if min_hole > 0 else b
    back = cKDTree(a).query(kept)[0].max() if len(kept) else 0.0
    return float(max(cKDTree(b).query(a)[0].max(), back) / diagonal)
