"""Drop the floating debris a learned SDF leaves around an object, keep the parts it really has.

A decoded shape often carries small closed bubbles in empty space (the field dips below zero
where no surface should be). Such a piece is recognised by two things together: it is small
(under ``island_share`` of the total area) and it floats apart from the body (its nearest vertex
is farther than ``island_gap`` x the bounding-box diagonal from the largest piece). Specks under
``speck_share`` of the area go wherever they are. Everything else stays, also when it is not
joined to the body: a small part close to the body (a knob, a lamp shade over its stem) is
part of the object, and a large separate piece is never noise.

Before that, a loose piece the learned field nearly joined to the body (the signed distance stays
within half a cell of zero along the gap: a leg broken by a hair) can be joined by a strut one
cell thick (:func:`valley_bridges`, :func:`with_struts`; the shape pipeline extracts again).
"""
from __future__ import annotations

import numpy as np


def piece_areas(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(piece label per face, area per piece) for the edge-connected pieces of a triangle mesh."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    faces = np.asarray(faces, dtype=np.int64)
    n = len(vertices)
    if len(faces) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, vertex_label = connected_components(graph, directed=False)
    label = vertex_label[faces[:, 0]]
    _, label = np.unique(label, return_inverse=True)
    v = np.asarray(vertices, dtype=np.float64)
    area = 0.5 * np.linalg.norm(np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]]), axis=1)
    return label, np.bincount(label, weights=area)


def largest_piece_share(vertices: np.ndarray, faces: np.ndarray) -> float:
    """The share of the surface area in the largest connected piece (1.0 for one piece)."""
    _, areas = piece_areas(vertices, faces)
    return float(areas.max() / areas.sum()) if areas.sum() > 0 else 1.0


def drop_floaters(vertices: np.ndarray, faces: np.ndarray, island_share: float = 0.05, island_gap: float = 0.03,
                  speck_share: float = 0.002) -> tuple[np.ndarray, np.ndarray, dict]:
    """Remove floating islands and specks (see the module docstring); unused vertices go too.

    Returns (vertices, faces, report) with report ``pieces``, ``dropped`` (how many pieces),
    ``dropped_area`` (share of the area removed), ``largest_piece_share`` of the input
    (``..._before``) and of the result.
    """
    from scipy.spatial import cKDTree

    faces = np.asarray(faces, dtype=np.int64)
    label, areas = piece_areas(vertices, faces)
    total = float(areas.sum())
    report = {"pieces": int(len(areas)), "dropped": 0, "dropped_area": 0.0, "largest_piece_share_before": 1.0,
              "largest_piece_share": 1.0}
    if len(areas) == 0 or total <= 0:
        return vertices, faces, report
    main = int(np.argmax(areas))
    share = areas / total
    drop = share < speck_share
    small = np.flatnonzero((share < island_share) & ~drop)
    if len(small):
        diagonal = float(np.linalg.norm(np.ptp(vertices, axis=0)))
        tree = cKDTree(vertices[np.unique(faces[label == main])])
        for piece in small:
            points = vertices[np.unique(faces[label == piece])]
            if tree.query(points, k=1)[0].min() > island_gap * diagonal:
                drop[piece] = True
    drop[main] = False
    kept = ~drop[label]
    faces = faces[kept]
    used = np.unique(faces)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    kept_areas = areas[~drop]
    report.update(dropped=int(drop.sum()), dropped_area=round(float(share[drop].sum()), 5),
                  largest_piece_share_before=round(float(share[main]), 5),
                  largest_piece_share=round(float(areas[main] / kept_areas.sum()), 5))
    return vertices[used], remap[faces], report


def valley_bridges(vertices: np.ndarray, faces: np.ndarray, sdf, cell: float, max_gap: float = 16.0,
                   valley: float = 0.5, min_share: float = 0.002) -> list[tuple[np.ndarray, np.ndarray]]:
    """Segments (a, b) that would join a loose piece to the largest one through the field's valley.

    A learned field often leaves a thin part (a chair leg, a lamp stem) broken by a hair: the
    signed distance along the gap stays just above zero. For each piece other than the largest
    (and not a speck under ``min_share`` of the area), the closest pair of vertices (one on it, one on the largest piece) is a candidate when it is at
    most ``max_gap`` cells apart and ``sdf`` (sampled every half cell) stays under ``valley`` cells
    along the segment between them; that gap is the model's near miss, not empty space (between
    a real floater and the body the field rises to many cells). Callers union thin struts along
    the returned segments with the field and extract again.
    """
    from scipy.spatial import cKDTree

    label, areas = piece_areas(vertices, faces)
    if len(areas) < 2:
        return []
    main = int(np.argmax(areas))
    main_vertices = vertices[np.unique(faces[label == main])]
    tree = cKDTree(main_vertices)
    found = []
    for piece in range(len(areas)):
        if piece == main or areas[piece] < min_share * areas.sum():
            continue
        points = vertices[np.unique(faces[label == piece])]
        distance, nearest = tree.query(points, k=1)
        k = int(np.argmin(distance))
        if distance[k] > max_gap * cell:
            continue
        a, b = points[k].astype(np.float64), main_vertices[nearest[k]].astype(np.float64)
        t = np.linspace(0.0, 1.0, int(np.ceil(2 * distance[k] / cell)) + 2)[1:-1, None]
        along = (a + t * (b - a)).astype(np.float32)
        if len(along) and float(np.max(sdf(along))) <= valley * cell:
            found.append((a, b))
    return found


def with_struts(sdf, segments: list[tuple[np.ndarray, np.ndarray]], radius: float):
    """``sdf`` united with capsules of ``radius`` along ``segments`` (the bridges above)."""
    starts = np.array([a for a, _ in segments], dtype=np.float32)
    ends = np.array([b for _, b in segments], dtype=np.float32)

    def united(points: np.ndarray) -> np.ndarray:
        axis = ends - starts                                                   # (S, 3)
        rel = points[:, None, :] - starts[None]                                # (N, S, 3)
        t = np.clip((rel * axis).sum(-1) / np.maximum((axis * axis).sum(-1), 1e-12), 0.0, 1.0)
        capsule = np.linalg.norm(rel - t[..., None] * axis, axis=-1).min(1) - radius
        return np.minimum(np.asarray(sdf(points), dtype=np.float32), capsule.astype(np.float32))
    return united
