"""Geometric part segmentation of one connected triangle mesh.

Two engines, chosen by ``segment_component(method=...)``:

* creases (default): faces merge greedily across their weakest boundaries (crease_regions.py);
  what remains is separated by concave creases, e.g. where legs meet a table top.
* sdf: on a decimated proxy (<= ``PROXY_FACES`` faces, labels copied back by nearest face), a
  spectral embedding of the dual graph weighted so concave creases are cheap to cut (Liu & Zhang
  2004) plus the log shape diameter (Shapira et al. 2008); the eigengap picks the part count;
  k-means, then an alpha-expansion graph cut whose smoothness follows dihedral angles.

Smooth (organic) shapes with no crease-bounded part fall back to thickness classes of the shape
diameter. Regions are then split into connected pieces and tiny ones merged into neighbours.
"""
from __future__ import annotations

from typing import Callable

import fast_simplification
import scipy.linalg
from trimesh.remesh import subdivide_to_size
import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.sparse import coo_matrix, diags, identity
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, eigsh, lobpcg
from scipy.spatial import cKDTree

from .crease_regions import merge_regions
from .graph_cut import alpha_expansion
from .mesh_graph import FaceGraph, face_graph, split_into_connected, weld
from .shape_diameter import shape_diameter

PROXY_FACES = 2000
CREASE_FULL_FACES = 60000  # crease merging runs on the mesh itself up to this size
CREASE_PROXY_FACES = 20000
DOMINANT_SHARE = 0.85      # auto: a crease split whose largest part is bigger than this is weak
CREASE_AUTO_FACES = 8000   # auto: crease merging on a proxy of this density (see crease_segment)
CREASE_THRESHOLD = 0.15    # auto: boundaries with mean concavity (1 - cos) above this stay cuts
DENSE_EIGEN_LIMIT = 6000   # above this, a failed ARPACK run falls back to LOBPCG instead of LAPACK
SDF_FACES = 600            # the shape diameter is smooth: a coarser proxy is enough for it
MAX_AUTO_PARTS = 12
MIN_PART_AREA = 0.01       # regions below this share of the surface are merged away
BEND_SCALE = 0.1           # a 90-degree concave crease keeps e^-10 of its affinity, a convex one e^-1
THICKNESS_RATIO = 3.0      # auto, smooth shapes: thin vs thick parts differ at least this much
SDF_WEIGHT = 0.5           # thickness vs spectral coordinates (unit vectors) in k-means
GAP_FLOOR = 0.1            # auto: relative eigenvalues below this count as "cut off" (zero)
MIN_GAP = 3.0              # auto: the spectrum must jump this much to claim a part boundary

Check = Callable[[], None]
Report = Callable[[float, str], None]


def _nothing() -> None:
    pass


def make_proxy(positions: np.ndarray, triangles: np.ndarray, max_faces: int = PROXY_FACES
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A welded copy with roughly even faces: coarse meshes subdivided, dense ones decimated.

    Returns (positions, triangles, origin): ``origin[i]`` is the input face proxy face ``i``
    lies in, or None when the proxy was decimated (labels then travel by nearest face).
    """
    positions, triangles = weld(positions, triangles)
    origin: np.ndarray | None = np.arange(len(triangles))
    if len(triangles) < max_faces // 4:
        tri = positions[triangles]
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
        edge = np.sqrt(4.0 * area / (np.sqrt(3.0) * max_faces / 2))  # equilateral faces, half the budget
        for _ in range(4):  # long thin faces may need a coarser target to converge in 6 rounds
            try:
                split = subdivide_to_size(positions, triangles, max_edge=edge, max_iter=6, return_index=True)
            except ValueError:
                edge *= 2.0
                continue
            positions, triangles = weld(split[0], split[1])
            origin = split[2]
            break
    elif len(triangles) > max_faces:
        positions, triangles = fast_simplification.simplify(
            positions.astype(np.float64), triangles.astype(np.int32), target_count=max_faces)
        positions, triangles = weld(positions, triangles)
        origin = None
    tri = positions[triangles]
    area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    keep = area2 > 1e-14 * max(float(area2.max(initial=0)), 1e-30)
    return positions, triangles[keep], None if origin is None else origin[keep]


def transfer_labels(labels: np.ndarray, graph: FaceGraph, origin: np.ndarray | None,
                    positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Proxy face labels -> input face labels (area vote when subdivided, else nearest face)."""
    if origin is not None:
        k = int(labels.max()) + 1
        votes = np.bincount(origin * k + labels, weights=graph.areas + 1e-30,
                            minlength=len(triangles) * k).reshape(len(triangles), k)
        voted = np.argmax(votes, axis=1)
        if (votes.sum(axis=1) > 0).all():
            return voted
    centroids = np.asarray(positions, dtype=np.float64)[triangles].mean(axis=1)
    _, nearest = cKDTree(graph.centroids).query(centroids)
    return labels[nearest]


def cut_costs(graph: FaceGraph) -> np.ndarray:
    """Cost of a part boundary across each dual edge: low along concave creases, high on flats."""
    turn = np.where(graph.concave, graph.angle, 0.1 * graph.angle)
    cost = -np.log(np.clip(turn / np.pi, 1e-3, 1.0))
    length = graph.edge_length / max(float(graph.edge_length.mean()), 1e-12)
    return cost * length


def affinities(graph: FaceGraph) -> np.ndarray:
    """Spectral-clustering affinity per dual edge: near zero across concave creases."""
    bend = (1.0 - np.cos(graph.angle)) * np.where(graph.concave, 1.0, 0.1)
    length = graph.edge_length / max(float(graph.edge_length.mean()), 1e-12)
    return np.exp(-bend / BEND_SCALE) * length + 1e-9


def spectral_embedding(graph: FaceGraph, count: int, creases: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` smallest eigenpairs of the normalised graph Laplacian (values, vectors).

    ``creases=False`` ignores dihedral angles: the reference spectrum of the bare shape.
    """
    n = graph.num_faces
    w = affinities(graph) if creases else graph.edge_length / max(float(graph.edge_length.mean()), 1e-12)
    a = coo_matrix((np.concatenate([w, w]), (np.concatenate([graph.pairs[:, 0], graph.pairs[:, 1]]),
                                             np.concatenate([graph.pairs[:, 1], graph.pairs[:, 0]]))),
                   shape=(n, n)).tocsr()
    degree = np.asarray(a.sum(axis=1)).ravel()
    degree = np.maximum(degree, 1e-6 * max(float(degree.mean()), 1e-12))  # isolated faces
    d = diags(1.0 / np.sqrt(degree))
    laplacian = (identity(n) - d @ a @ d).tocsc()
    count = min(count, n - 1)
    values, vectors = _smallest_eigenpairs(laplacian, count)
    order = np.argsort(values)
    return np.clip(values[order], 0.0, None), vectors[:, order]


def _smallest_eigenpairs(laplacian, count: int) -> tuple[np.ndarray, np.ndarray]:
    """ARPACK shift-invert (deterministic start vector); dense LAPACK when ARPACK does not converge."""
    n = laplacian.shape[0]
    start = np.random.default_rng(0).random(n) + 0.5
    try:
        return eigsh(laplacian, k=count, sigma=-1e-3, which="LM", v0=start, ncv=min(n, max(4 * count, 40)))
    except (ArpackNoConvergence, ArpackError):
        if n > DENSE_EIGEN_LIMIT:
            values, vectors = lobpcg(laplacian, np.random.default_rng(0).random((n, count)), largest=False,
                                     tol=1e-6, maxiter=2000)
            return values, vectors
        return scipy.linalg.eigh(laplacian.toarray(), subset_by_index=[0, count - 1])


def choose_part_count(eigenvalues: np.ndarray, reference: float, maximum: int = MAX_AUTO_PARTS) -> int:
    """Parts separated by creases, from the spectrum relative to the crease-blind Fiedler value.

    Weakening concave creases pulls one eigenvalue down per part they cut off; a smooth shape
    keeps its spectrum and stays one part. k is where the relative spectrum jumps most
    (multiplicatively, at least ``MIN_GAP`` x) while still below the reference.
    """
    ratio = np.asarray(eigenvalues[: maximum + 1], dtype=np.float64) / max(reference, 1e-12)
    best_k, best_gap = 1, MIN_GAP
    for k in range(1, len(ratio)):
        if ratio[k - 1] >= 1.0:
            break
        gap = ratio[k] / max(ratio[k - 1], GAP_FLOOR)
        if gap >= best_gap:
            best_k, best_gap = k, gap
    return best_k


def coarse_shape_diameter(positions: np.ndarray, triangles: np.ndarray, graph: FaceGraph, check: Check) -> np.ndarray:
    """Shape diameter per proxy face, computed on a coarser copy and copied by nearest face."""
    coarse_pos, coarse_tri = positions, triangles
    if len(triangles) > SDF_FACES:
        coarse_pos, coarse_tri = fast_simplification.simplify(
            positions.astype(np.float64), triangles.astype(np.int32), target_count=SDF_FACES)
    coarse = face_graph(coarse_pos, coarse_tri)
    sdf = shape_diameter(coarse_pos, coarse_tri, coarse.normals, check=check)
    _, nearest = cKDTree(coarse.centroids).query(graph.centroids)
    return sdf[nearest]


def smoothed_log_sdf(sdf: np.ndarray, graph: FaceGraph, rounds: int = 3) -> np.ndarray:
    """log(shape diameter), averaged with dual-graph neighbours a few times to remove ray noise."""
    log_sdf = np.log(np.maximum(sdf, 1e-9))
    count = np.ones_like(log_sdf)
    np.add.at(count, graph.pairs.ravel(), 1)
    for _ in range(rounds):
        total = log_sdf.copy()
        np.add.at(total, graph.pairs[:, 0], log_sdf[graph.pairs[:, 1]])
        np.add.at(total, graph.pairs[:, 1], log_sdf[graph.pairs[:, 0]])
        log_sdf = total / count
    return log_sdf


def _features(embedding: np.ndarray, log_sdf: np.ndarray, k: int) -> np.ndarray:
    emb = embedding[:, :k]  # Ng, Jordan & Weiss: k eigenvectors, rows scaled to unit length
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    thickness = (log_sdf - np.median(log_sdf)) / np.log(4.0)  # 1 unit = 4x thicker or thinner
    return np.concatenate([emb, SDF_WEIGHT * thickness[:, None]], axis=1)


def thickness_classes(log_sdf: np.ndarray, areas: np.ndarray) -> int:
    """How many thickness classes a smooth shape has (1-3), by 1D k-means on log diameters.

    Shapira et al. split organic shapes (legs vs body) by shape diameter. One class unless the
    thickest and thinnest tenth of the surface differ by ``THICKNESS_RATIO`` x or more; a third
    class only when it removes most of the remaining spread.
    """
    low, high = np.percentile(log_sdf, [10, 90])
    if high - low < np.log(THICKNESS_RATIO):
        return 1
    values = log_sdf[:, None]
    spread = []
    for k in (1, 2, 3):
        centers, labels = kmeans2(values, k, minit="++", seed=np.random.default_rng(0), iter=30)
        spread.append(float((areas * (values[:, 0] - centers[labels, 0]) ** 2).sum()))
    return 3 if spread[2] < 0.4 * spread[1] else 2


def _cut(features: np.ndarray, k: int, graph: FaceGraph, check: Check) -> np.ndarray:
    """k-means on ``features``, then the crease-following alpha-expansion graph cut."""
    centers, labels = kmeans2(features, k, minit="++", seed=np.random.default_rng(0), iter=30)
    dist2 = ((features[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    unary = dist2 / max(float(np.median(dist2.min(axis=1))) + 1e-3, 1e-6)
    return alpha_expansion(unary, graph.pairs, cut_costs(graph) * 0.5, labels=labels.astype(np.int64), check=check)


def merge_small_regions(labels: np.ndarray, graph: FaceGraph, min_share: float, target: int | None) -> np.ndarray:
    """Make regions connected, merge regions under ``min_share`` of the area (or down to ``target``)."""
    labels = split_into_connected(labels, graph.pairs)
    total = float(graph.areas.sum()) or 1.0
    while True:
        count = int(labels.max()) + 1
        if count <= 1:
            break
        area = np.bincount(labels, weights=graph.areas, minlength=count)
        smallest = int(np.argmin(area))
        too_many = target is not None and count > target
        if area[smallest] >= min_share * total and not too_many:
            break
        a, b = labels[graph.pairs[:, 0]], labels[graph.pairs[:, 1]]
        border = (a != b) & ((a == smallest) | (b == smallest))
        if border.any():  # join the neighbour it shares the longest boundary with
            other = np.where(a[border] == smallest, b[border], a[border])
            shared = np.bincount(other, weights=graph.edge_length[border], minlength=count)
            labels[labels == smallest] = int(np.argmax(shared))
        else:  # a separate piece: join the region nearest to it
            mine = labels == smallest
            _, nearest = cKDTree(graph.centroids[~mine]).query(graph.centroids[mine])
            labels[mine] = np.bincount(labels[~mine][nearest]).argmax()
        _, labels = np.unique(labels, return_inverse=True)
    return labels.astype(np.int64)


def segment_component(positions: np.ndarray, triangles: np.ndarray, num_parts: int = 0,
                      check: Check = _nothing, report: Report | None = None, method: str = "auto") -> np.ndarray:
    """Per-triangle part labels (0..k-1) for one connected mesh; ``num_parts`` 0 means auto.

    ``creases``: greedy merging of faces across weak boundaries (crease_regions.py).
    ``sdf``: spectral clustering + shape diameter + graph cut; in auto mode the spectrum picks
    the count. ``auto``: creases; a smooth shape with no crease-bounded part is split by
    thickness classes instead, each connected thin/thick region becoming a part, and a count
    the creases cannot reach is handed to the spectral engine.
    """
    report = report or (lambda f, m: None)
    triangles = np.asarray(triangles, dtype=np.int64)
    positions = np.asarray(positions, dtype=np.float64)
    if len(triangles) < 4:
        return np.zeros(len(triangles), dtype=np.int64)
    if method == "sdf":
        return _spectral_segment(positions, triangles, num_parts, check, report, spectral=True)
    labels = crease_segment(positions, triangles, num_parts, check, report)
    if method == "creases":
        return labels
    if num_parts > 0:  # a count the creases cannot reach goes to the spectral engine
        found = int(labels.max()) + 1
        return labels if found >= num_parts else _spectral_segment(
            positions, triangles, num_parts, check, report, spectral=True)
    # Creases that only chip off small bits (horns, not legs) leave a smooth body: try thickness.
    tri = positions[triangles]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)

    def largest_share(result: np.ndarray) -> float:
        return float(np.bincount(result, weights=areas).max() / max(float(areas.sum()), 1e-30))

    crease_share = largest_share(labels)
    if crease_share <= DOMINANT_SHARE:
        return labels
    thick = _spectral_segment(positions, triangles, 0, check, report, spectral=False)
    return thick if largest_share(thick) < crease_share else labels


def crease_segment(positions: np.ndarray, triangles: np.ndarray, num_parts: int, check: Check,
                   report: Report) -> np.ndarray:
    """Per-triangle labels from crease merging.

    A requested count runs on the mesh itself when mid-sized (boundaries stay exact). Auto mode
    runs on a proxy of about ``CREASE_AUTO_FACES`` faces: the per-edge concavity of a rounded
    crease depends on how finely it is tessellated, so a fixed density keeps the threshold
    meaningful. Coarse meshes are subdivided and dense ones decimated first.
    """
    report(0.05, f"merging regions of {len(triangles)} faces along creases")
    if num_parts and PROXY_FACES // 4 <= len(triangles) <= CREASE_FULL_FACES:
        graph = face_graph(*weld(positions, triangles))  # weld keeps the triangle order
        labels, _ = merge_regions(graph, None, num_parts, MIN_PART_AREA, check)
        return labels
    budget = CREASE_PROXY_FACES if num_parts else CREASE_AUTO_FACES
    proxy_pos, proxy_tri, origin = make_proxy(positions, triangles, budget)
    graph = face_graph(proxy_pos, proxy_tri)
    labels, _ = merge_regions(graph, None if num_parts else CREASE_THRESHOLD, num_parts or None, MIN_PART_AREA, check)
    report(0.9, "transfer labels")
    return transfer_labels(labels, graph, origin, positions, triangles)


def _spectral_segment(positions: np.ndarray, triangles: np.ndarray, num_parts: int, check: Check,
                      report: Report, spectral: bool) -> np.ndarray:
    """The spectral + shape-diameter path; ``spectral=False`` only tries thickness classes."""
    report(0.0, f"proxy mesh from {len(triangles)} faces")
    proxy_pos, proxy_tri, origin = make_proxy(np.asarray(positions, dtype=np.float64), triangles)
    if len(proxy_tri) < 8:
        return np.zeros(len(triangles), dtype=np.int64)
    check()
    report(0.1, f"dual graph of {len(proxy_tri)} faces")
    graph = face_graph(proxy_pos, proxy_tri)
    report(0.2, "shape diameter")
    log_sdf = smoothed_log_sdf(coarse_shape_diameter(proxy_pos, proxy_tri, graph, check), graph)
    check()
    target = num_parts if num_parts > 0 else None
    k, vectors = 1, None
    if num_parts > 0 or spectral:
        report(0.5, "spectral embedding")
        wanted = num_parts if num_parts > 0 else MAX_AUTO_PARTS
        values, vectors = spectral_embedding(graph, min(max(wanted, 2) + 1, graph.num_faces - 1))
        if num_parts > 0:
            k = num_parts
        else:
            reference = spectral_embedding(graph, 2, creases=False)[0][1]
            k = choose_part_count(values, reference)
    k = max(1, min(k, graph.num_faces // 4))
    check()
    if k > 1:
        report(0.7, f"graph cut into {k} parts")
        labels = _cut(_features(vectors, log_sdf, k), k, graph, check)
    elif num_parts == 0 and (classes := thickness_classes(log_sdf, graph.areas)) > 1:
        report(0.7, f"graph cut into {classes} thickness classes")
        labels = _cut(log_sdf[:, None] / np.log(2.0), classes, graph, check)
        target = MAX_AUTO_PARTS
    else:
        labels = np.zeros(graph.num_faces, dtype=np.int64)
    if labels.max() > 0:
        labels = merge_small_regions(labels, graph, MIN_PART_AREA, target)
    report(0.9, "transfer labels")
    return transfer_labels(labels, graph, origin, positions, triangles)
