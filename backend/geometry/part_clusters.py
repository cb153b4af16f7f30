"""From per-point part features to per-face parts.

* :func:`feature_tree` / :func:`cut_tree`: Ward's agglomerative clustering of point features,
  one tree from which any part count (coarse to fine) is read without recomputing anything.
* :func:`points_to_faces`: point clusters carried to the faces of the mesh. Every face votes
  from its nearest sample points; faces where the vote is unanimous keep it, and only a band
  around the disagreements is settled by an alpha-expansion graph cut whose smoothness term is
  cheap along concave creases, so part boundaries follow the mesh's creases.
* :func:`merge_to_count`: connected regions merged (most similar neighbours first) down to a count.
* :func:`merge_same_name`: touching regions that carry one name and close mean features joined
  (the geometric engine's segments named by a part model); the surer the name, the farther apart
  the features may be.
* :func:`split_mixed_regions`: regions whose features spread wide give up the big pieces another
  split (the part model's own) sees inside them.
* :func:`proxy_in_child` / :func:`nearest_faces`: for big meshes, a decimated copy made in a
  child process (progress and cancel while it runs) and labels carried back in chunks.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial import cKDTree

from backend.runtime import CancelToken, ProgressFn, no_progress

from .graph_cut import alpha_expansion
from .killable import call_in_child
from .mesh_graph import FaceGraph, split_into_connected
from .segmentation import cut_costs, make_proxy

Check = Callable[[], None]
VOTERS = 8           # sample points each face listens to
VOTE_PRIOR = 0.25    # added to every label's vote count before the log
BAND_RINGS = 2       # dual-graph rings around disagreeing faces that the graph cut may change
SMOOTHNESS = 0.5     # weight of the crease-following boundary cost against the votes


def _nothing() -> None:
    pass


def feature_tree(features: np.ndarray) -> np.ndarray:
    """Ward linkage matrix of ``features`` (M, D) (scipy's format)."""
    return linkage(np.asarray(features, np.float64), method="ward")


def cut_tree(tree: np.ndarray, count: int | None = None, height: float | None = None) -> np.ndarray:
    """Cluster labels 0..k-1 of the tree's points, cut at ``count`` clusters or at merge ``height``."""
    if count is not None:
        labels = fcluster(tree, t=max(int(count), 1), criterion="maxclust")
    else:
        labels = fcluster(tree, t=float(height), criterion="distance")
    _, labels = np.unique(labels, return_inverse=True)
    return labels.astype(np.int64)


def tree_heights(tree: np.ndarray, most: int) -> np.ndarray:
    """Merge heights of the last ``most`` merges, top first: ``heights[k-1]`` joins k+1 clusters into k."""
    return tree[::-1, 2][:most]


def vote_costs(face_centroids: np.ndarray, points: np.ndarray, labels: np.ndarray, count: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """(-log vote share per face and label (F, K), unanimous (F,) bool) from the nearest points."""
    k = min(VOTERS, len(points))
    dist, near = cKDTree(points).query(face_centroids, k=k)
    near = near.reshape(len(face_centroids), k)
    votes = np.zeros((len(face_centroids), count))
    weight = 1.0 / (1.0 + dist.reshape(len(face_centroids), k) / max(float(np.median(dist)), 1e-12))
    for j in range(k):
        np.add.at(votes, (np.arange(len(votes)), labels[near[:, j]]), weight[:, j])
    share = (votes + VOTE_PRIOR * weight.sum(1, keepdims=True) / k) / (votes.sum(1, keepdims=True) +
                                                                      VOTE_PRIOR * weight.sum(1, keepdims=True) / k * count)
    unanimous = (labels[near] == labels[near[:, :1]]).all(axis=1)
    return -np.log(share), unanimous


def points_to_faces(graph: FaceGraph, points: np.ndarray, labels: np.ndarray, check: Check = _nothing) -> np.ndarray:
    """Per-face labels (0..K-1) for the mesh of ``graph`` from labelled sample ``points``."""
    count = int(labels.max()) + 1
    costs, unanimous = vote_costs(graph.centroids, points, labels, count)
    face_labels = np.argmin(costs, axis=1)
    if count == 1 or unanimous.all():
        return face_labels
    pairs = graph.pairs
    band = ~unanimous
    for _ in range(BAND_RINGS):
        touch = band[pairs[:, 0]] | band[pairs[:, 1]]
        band[pairs[touch].ravel()] = True
    check()
    inside = np.nonzero(band)[0]
    local = np.full(graph.num_faces, -1)
    local[inside] = np.arange(len(inside))
    weights = cut_costs(graph) * SMOOTHNESS
    a, b = local[pairs[:, 0]], local[pairs[:, 1]]
    both = (a >= 0) & (b >= 0)
    unary = costs[inside].copy()
    # An edge to a fixed face costs its weight unless the band face takes the fixed face's label.
    for mine, other in ((a, pairs[:, 1]), (b, pairs[:, 0])):
        edge = (mine >= 0) & ~both
        np.add.at(unary, mine[edge], weights[edge, None])
        np.add.at(unary, (mine[edge], face_labels[other[edge]]), -weights[edge])
    cut = alpha_expansion(unary, np.stack([a[both], b[both]], axis=1), weights[both],
                          labels=face_labels[inside], check=check)
    face_labels[inside] = cut
    return face_labels


def merge_to_count(labels: np.ndarray, graph: FaceGraph, features: np.ndarray, target: int,
                   min_share: float = 0.0) -> np.ndarray:
    """Connected regions (0..n-1); regions under ``min_share`` of the area, then the rest down to
    ``target`` regions, join the touching region whose mean feature ``features[label]`` is nearest.

    ``features`` (K, D) are the mean point features of the input labels; merged regions average them.
    """
    regions = split_into_connected(labels, graph.pairs)
    n = int(regions.max()) + 1
    first = np.zeros(n, dtype=np.int64)
    first[regions] = np.arange(len(regions))
    feat = {r: np.asarray(features[int(labels[first[r]])], np.float64) for r in range(n)}
    area = np.bincount(regions, weights=graph.areas, minlength=n)
    total = float(area.sum()) or 1.0
    a, b = regions[graph.pairs[:, 0]], regions[graph.pairs[:, 1]]
    border = a != b
    touching: dict[int, set[int]] = {r: set() for r in range(n)}
    for x, y in zip(a[border].tolist(), b[border].tolist()):
        touching[x].add(y)
        touching[y].add(x)
    owner = np.arange(n)
    alive = set(range(n))
    while len(alive) > 1:
        smallest = min(alive, key=lambda r: area[r])
        if len(alive) <= target and area[smallest] >= min_share * total:
            break
        neighbours = touching[smallest] & alive
        candidates = neighbours or (alive - {smallest})
        into = min(candidates, key=lambda r: float(np.linalg.norm(feat[r] - feat[smallest])))
        w = area[into] / max(area[into] + area[smallest], 1e-30)
        feat[into] = w * feat[into] + (1 - w) * feat[smallest]
        area[into] += area[smallest]
        owner[owner == smallest] = into
        for r in touching[smallest]:
            touching[r].discard(smallest)
            if r != into:
                touching[r].add(into)
                touching[into].add(r)
        touching[into].discard(into)
        alive.discard(smallest)
    _, regions = np.unique(owner[regions], return_inverse=True)
    return regions.astype(np.int64)


def region_means(labels: np.ndarray, point_faces: np.ndarray, values: np.ndarray, count: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(mean of ``values`` (M, C) over the sample points on each region (count, C), points per region)."""
    point_region = labels[point_faces]
    sums = np.zeros((count, values.shape[1]))
    np.add.at(sums, point_region, values)
    points = np.bincount(point_region, minlength=count).astype(np.float64)
    return sums / np.maximum(points, 1)[:, None], points


def merge_same_name(labels: np.ndarray, graph: FaceGraph, point_faces: np.ndarray, probs: np.ndarray,
                    features: np.ndarray, scale: float, floor: float, min_share: float = 0.0,
                    check: Check = _nothing, whole_sure: float = 2.0, whole_spread: float = 0.0) -> np.ndarray:
    """Connected regions of ``labels`` (faces of ``graph``); those under ``min_share`` of the area
    join their nearest-feature neighbour; then two touching regions whose sample points (on faces
    ``point_faces``) agree on the most likely name (``probs`` (M, V)) become one when their mean
    ``features`` lie closer than ``scale * (sure - floor)``, ``sure`` being the smaller of the two
    regions' mean probability of that name: a name the model is unsure of joins nothing, a sure
    one joins across a wider feature gap. Widest margin first. On an object whose regions all carry
    one name, two regions sure of it to ``whole_sure`` also join when the points of both together
    spread (mean distance to their mean) no wider than ``whole_spread``: one sure name everywhere and
    features of one part (a rock). Returns labels 0..n-1."""
    regions = split_into_connected(labels, graph.pairs)
    count = int(regions.max()) + 1
    regions = merge_to_count(regions, graph, region_means(regions, point_faces, features, count)[0], count,
                             min_share)
    while True:
        check()
        count = int(regions.max()) + 1
        names, points = region_means(regions, point_faces, probs, count)
        means = region_means(regions, point_faces, features, count)[0]
        a, b = regions[graph.pairs[:, 0]], regions[graph.pairs[:, 1]]
        border = a != b
        pairs = np.unique(np.sort(np.stack([a[border], b[border]], axis=1), axis=1), axis=0)
        best, sure = names.argmax(1), names.max(1)
        pairs = pairs[(best[pairs[:, 0]] == best[pairs[:, 1]]) & (points[pairs[:, 0]] > 0) & (points[pairs[:, 1]] > 0)]
        if not len(pairs):
            return regions
        gaps = np.linalg.norm(means[pairs[:, 0]] - means[pairs[:, 1]], axis=1)
        margin = scale * (np.minimum(sure[pairs[:, 0]], sure[pairs[:, 1]]) - floor) - gaps
        both_sure = np.minimum(sure[pairs[:, 0]], sure[pairs[:, 1]]) >= whole_sure
        if both_sure.any() and (best[points > 0] == best[pairs[0, 0]]).all():
            point_region = regions[point_faces]
            for i in np.nonzero(both_sure & (margin <= 0))[0]:
                inside = features[np.isin(point_region, pairs[i])]
                spread = float(np.linalg.norm(inside - inside.mean(0), axis=1).mean())
                margin[i] = max(margin[i], whole_spread - spread)
        if margin.max() <= 0:
            return regions
        keep, gone = pairs[int(np.argmax(margin))]
        regions = np.unique(np.where(regions == gone, keep, regions), return_inverse=True)[1].reshape(-1)


def split_mixed_regions(labels: np.ndarray, graph: FaceGraph, other: np.ndarray, point_faces: np.ndarray,
                        features: np.ndarray, spread: float, share: float, min_share: float = 0.0) -> np.ndarray:
    """Regions of ``labels`` whose sample points' ``features`` lie on average farther than ``spread``
    from their mean (the features say "more than one part") are cut along ``other`` (another
    per-face split of the same faces): every piece of ``other`` inside such a region, except its
    biggest, becomes a region of its own when it holds at least ``share`` of the region's area
    and ``min_share`` of the whole. Faces where ``other`` is negative are never cut off.
    Returns connected labels 0..n-1."""
    count = int(labels.max()) + 1
    means, _ = region_means(labels, point_faces, features, count)
    point_region = labels[point_faces]
    distance = np.linalg.norm(features - means[point_region], axis=1)
    mean_distance = np.bincount(point_region, weights=distance, minlength=count) / np.maximum(
        np.bincount(point_region, minlength=count), 1)
    total = float(graph.areas.sum()) or 1.0
    out = labels.copy()
    fresh = count
    for region in np.nonzero(mean_distance > spread)[0]:
        inside = labels == region
        pieces, piece = np.unique(other[inside], return_inverse=True)
        area = np.bincount(piece, weights=graph.areas[inside])
        for j in range(len(pieces)):
            if (pieces[j] >= 0 and j != int(np.argmax(area)) and area[j] >= share * area.sum()
                    and area[j] >= min_share * total):
                out[inside & (other == pieces[j])] = fresh
                fresh += 1
    return split_into_connected(out, graph.pairs)


def proxy_child(vertices: np.ndarray, triangles: np.ndarray, max_faces: int) -> dict[str, np.ndarray]:
    """(Runs in the child.) :func:`make_proxy` without its origin map."""
    positions, tris, _ = make_proxy(vertices, triangles, int(max_faces))
    return {"vertices": positions, "triangles": tris}


def proxy_in_child(vertices: np.ndarray, triangles: np.ndarray, max_faces: int, cancel: CancelToken | None = None,
                   progress: ProgressFn = no_progress) -> tuple[np.ndarray, np.ndarray]:
    """A welded, decimated copy of about ``max_faces`` faces, made in a killable child process."""
    out = call_in_child(__name__, "proxy_child", {"vertices": vertices, "triangles": triangles},
                        {"max_faces": int(max_faces)}, cancel=cancel, progress=progress, stage="part graph",
                        expected_seconds=1 + len(triangles) / 150_000)
    return out["vertices"], out["triangles"].astype(np.int64)


def nearest_faces(centroids: np.ndarray, queries: np.ndarray, check: Check = _nothing, chunk: int = 100_000) -> np.ndarray:
    """Index of the nearest ``centroids`` row for every query point, in chunks (``check`` between)."""
    tree = cKDTree(centroids)
    out = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        check()
        out[start:start + chunk] = tree.query(queries[start:start + chunk])[1]
    return out
