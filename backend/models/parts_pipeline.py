"""Learned part splitting: sample the surface, one network pass, then clusters -> faces -> names.

The automatic split follows the predicted names: points grouped by their most likely name,
carried to the faces by a crease-following graph cut, then split into connected pieces (four
legs named 'leg' are four parts). A part count the names cannot give comes from the feature
tree (Ward clustering of the contrastive features), coarse to fine.

:func:`embed_mesh` is the only step that runs the network; it returns the *cache* (sample points,
the faces they lie on, their features and name probabilities). :func:`parts_from_cache` does the
rest and can run again on the same cache for another part count or a merge, without the network.
:func:`name_segments` names another engine's segments (the geometric engine's) from the same
cache: the hybrid path, for meshes where the model's own split is unsure.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.geometry.mesh_graph import FaceGraph
from backend.geometry.part_clusters import (cut_tree, feature_tree, merge_same_name, merge_to_count, points_to_faces,
                                            region_means, split_mixed_regions)
from backend.geometry.part_naming import number_names
from backend.geometry.surface_distance import sample_surface

from .kiln_parts import POINTS_PER_PASS, PartsModel

PASSES = 4               # network passes of POINTS_PER_PASS points each (different samples)
MIN_PART_SHARE = 0.004   # regions below this share of the area join a neighbour
MAX_PARTS = 64
UNKNOWN = "part"
NAME_CONFIDENCE = 0.5    # hybrid: a segment keeps the model's name when its mean probability reaches this
# hybrid: touching segments with one name join when their mean features are closer than
# MERGE_SCALE * (the smaller of their name probabilities - MERGE_FLOOR); chosen on seeds 2 and 3
# (never trained on, not benched): mc 0.626 -> 0.663, decimated 0.638 -> 0.633 against the old fixed 0.4
MERGE_SCALE = 1.0
MERGE_FLOOR = 0.6
# hybrid: a segment whose features spread wider than this (mean distance to their mean) gives up
# the pieces of the model's own split named at least SPLIT_SURE that hold SPLIT_SHARE of it and 2% of
# the whole (seeds 2-3: mc 0.663 -> 0.666, decimated 0.633 -> 0.635; SPLIT_SURE 0.6 read 0.670 / 0.638
# there and 0.704 -> 0.713 on seeds 4-5: the seeds cannot tell 0.6 from 0.7; 0.7 is as sure as auto
# wants the model's own split to be, see bench/RESULTS.md for both on the bench seed)
SPLIT_SPREAD = 0.35
SPLIT_SHARE = 0.2
SPLIT_MIN_SHARE = 0.02
SPLIT_SURE = 0.7
# hybrid: on an object whose segments all carry one name, touching segments sure of it to WHOLE_SURE
# also join when their points together
# spread no wider than SPLIT_SPREAD (what the split calls one part): the rock's three geometric
# segments, all `rock` at 0.76-0.94 but 0.27-0.31 apart, stayed three (seed 0 mc 1.00 -> 0.16)
WHOLE_SURE = 0.7


@dataclass
class LearnedParts:
    """Per-triangle labels, one name per label, and how sure the model was."""

    labels: np.ndarray
    names: list[str]
    confidence: float          # area-weighted mean of each part's name probability
    part_confidence: list[float]
    clusters: int              # feature clusters before connected pieces were split off
    note: str = ""


def sample_for_model(positions: np.ndarray, triangles: np.ndarray, count: int, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (count,3) in the mesh's frame, unit face normals, triangle index of each point)."""
    points, face_ids = sample_surface(positions, triangles, count, seed)
    tri = positions[triangles[face_ids]]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-30)
    return points, normals, face_ids


def embed_mesh(model: PartsModel, positions: np.ndarray, triangles: np.ndarray, check=None) -> dict:
    """The cache of one mesh: ``points`` (M,3) f32 (mesh frame), ``face_ids`` (M,) triangle
    indices, ``features`` (M,D) f32, ``probs`` (M,V) f32, ``vocabulary`` (V,) str."""
    points, normals, face_ids = sample_for_model(positions, triangles, PASSES * POINTS_PER_PASS)
    if check is not None:
        check()
    lo, hi = points.min(0), points.max(0)
    scaled = (points - (lo + hi) / 2) * (2.0 / max(float((hi - lo).max()), 1e-30))
    features, probs = model.embed(scaled, normals, check)
    return {"points": points.astype(np.float32), "face_ids": face_ids.astype(np.int32),
            "features": features.astype(np.float32), "probs": probs.astype(np.float32),
            "vocabulary": np.array(model.vocabulary)}


def parts_from_cache(graph: FaceGraph, cache: dict, num_parts: int = 0, check=None,
                     previous: np.ndarray | None = None, merge: tuple[int, int] | None = None,
                     point_faces: np.ndarray | None = None, report=None) -> LearnedParts:
    """Per-triangle parts of the mesh of ``graph`` from its cache.

    ``graph`` may be a proxy of the cached mesh (a big mesh is cut on a decimated copy): then
    ``point_faces`` gives the proxy face each sample point lies nearest (default: the cached
    ``face_ids``, right when ``graph`` is the mesh itself). ``report(message)`` hears each step.
    ``num_parts`` 0 = the count the feature tree suggests; otherwise exactly that many when the
    features can give it (``note`` says when not). ``previous`` + ``merge``: the earlier result's
    triangle labels with parts ``merge[0]`` and ``merge[1]`` joined (then only names are redone).
    """
    check = check or (lambda: None)
    report = report or (lambda message: None)
    features, points = cache["features"], cache["points"].astype(np.float64)
    note = ""
    if previous is not None and merge is not None:
        a, b = merge
        labels = np.where(previous == b, a, previous)
        _, labels = np.unique(labels, return_inverse=True)
        clusters = int(labels.max()) + 1
    else:
        report(f"part names of {len(features)} points: graph cut to {graph.num_faces} faces")
        point_labels = np.unique(cache["probs"].argmax(axis=1), return_inverse=True)[1].reshape(-1)
        labels, clusters = _regions(graph, points, features, point_labels, num_parts or MAX_PARTS, check)
        count = int(labels.max()) + 1
        if num_parts and count < num_parts:  # finer than the names: the feature tree, coarse to fine
            report(f"feature tree of {len(features)} points")
            tree = feature_tree(features)
            check()
            k = num_parts
            while count < num_parts and k <= min(len(features), 2 * num_parts + 8):
                report(f"{k} feature clusters: graph cut to {graph.num_faces} faces")
                labels, clusters = _regions(graph, points, features, cut_tree(tree, count=k), num_parts, check)
                count = int(labels.max()) + 1
                k += max(num_parts - count, 1)
        if num_parts and count < num_parts:
            note = (f"asked for {num_parts} parts; the model's features separate only {count} on this mesh "
                    f"(more would split parts at random)")
    report(f"naming {int(labels.max()) + 1} parts")
    point_faces = cache["face_ids"] if point_faces is None else point_faces
    names, confidence, per_part = name_regions(graph, labels, cache, point_faces)
    return LearnedParts(labels, names, confidence, per_part, clusters, note)


def name_segments(graph: FaceGraph, segments: np.ndarray, cache: dict, point_faces: np.ndarray | None = None,
                  merge: bool = True, fallback=None, check=None, model_parts: LearnedParts | None = None
                  ) -> LearnedParts:
    """Per-face ``segments`` of ``graph`` from another engine, named from the cache's name
    probabilities. ``merge``: touching segments the model gives one name join when their features
    are close for how sure that name is (so an over-split part comes back whole, and parts the
    model names alike but keeps apart stay apart). ``model_parts`` (the model's own split of the
    same faces): segments whose features spread wide are cut along its sure parts. ``fallback(labels)`` -> a
    name (or None) per region, used where the model is less sure than ``NAME_CONFIDENCE``."""
    point_faces = cache["face_ids"] if point_faces is None else point_faces
    check = check or (lambda: None)
    labels = np.unique(segments, return_inverse=True)[1].reshape(-1)
    if merge:
        labels = merge_same_name(labels, graph, point_faces, cache["probs"], cache["features"], MERGE_SCALE,
                                 MERGE_FLOOR, MIN_PART_SHARE, check, WHOLE_SURE, SPLIT_SPREAD)
    if model_parts is not None:
        sure = np.asarray(model_parts.part_confidence) >= SPLIT_SURE
        other = np.where(sure[model_parts.labels], model_parts.labels, -1)
        labels = split_mixed_regions(labels, graph, other, point_faces, cache["features"], SPLIT_SPREAD,
                                     SPLIT_SHARE, SPLIT_MIN_SHARE)
        count = int(labels.max()) + 1
        labels = merge_to_count(labels, graph, region_means(labels, point_faces, cache["features"], count)[0],
                                count, MIN_PART_SHARE)
    names, confidence, per_part = name_regions(graph, labels, cache, point_faces, fallback)
    return LearnedParts(labels, names, confidence, per_part, int(segments.max()) + 1)


def _regions(graph: FaceGraph, points: np.ndarray, features: np.ndarray, point_labels: np.ndarray, target: int,
             check) -> tuple[np.ndarray, int]:
    """Point clusters -> faces (graph cut) -> connected regions, small ones and any beyond
    ``target`` merged into their most similar neighbour; returns (labels, clusters)."""
    clusters = int(point_labels.max()) + 1
    face_labels = points_to_faces(graph, points, point_labels, check)
    means = np.stack([features[point_labels == c].mean(0) for c in range(clusters)])
    return merge_to_count(face_labels, graph, means, target, MIN_PART_SHARE), clusters


def name_regions(graph: FaceGraph, labels: np.ndarray, cache: dict, point_faces: np.ndarray, fallback=None
                 ) -> tuple[list[str], float, list[float]]:
    """One name per region from the mean name probabilities of the sample points on it;
    ``fallback(labels)`` names the regions the model is less sure of than ``NAME_CONFIDENCE``."""
    count = int(labels.max()) + 1
    vocab = [str(v) for v in cache["vocabulary"]]
    point_region = labels[point_faces]
    probs = cache["probs"]
    area = np.bincount(labels, weights=graph.areas, minlength=count)
    bases, sure, centroids = [], [], []
    for r in range(count):
        mine = point_region == r
        if mine.any():
            mean = probs[mine].mean(0)
        else:  # a region no sample landed on: the points nearest its faces speak for it
            centre = graph.centroids[labels == r].mean(0)
            nearest = np.argsort(np.linalg.norm(cache["points"] - centre, axis=1))[:8]
            mean = probs[nearest].mean(0)
        best = int(np.argmax(mean))
        bases.append(vocab[best] if vocab[best] != UNKNOWN else None)
        sure.append(float(mean[best]))
        weights = graph.areas[labels == r]
        centroids.append((graph.centroids[labels == r] * weights[:, None]).sum(0) / max(float(weights.sum()), 1e-30))
    if fallback is not None:
        other = fallback(labels)
        bases = [b if s >= NAME_CONFIDENCE else other[r] for r, (b, s) in enumerate(zip(bases, sure))]
    confidence = float(np.dot(sure, area) / max(float(area.sum()), 1e-30))
    return number_names(bases, centroids), confidence, sure
