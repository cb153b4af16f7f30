"""The hybrid's post-processing: same-name merging that asks the features and the name's
certainty, and splitting of segments whose features spread wide (backend/geometry/part_clusters)."""
from __future__ import annotations

import numpy as np

from backend.geometry.mesh_graph import face_graph
from backend.geometry.part_clusters import merge_same_name, split_mixed_regions


def _strip(columns: int = 8, rows: int = 4):
    """A flat grid of ``columns`` x ``rows`` squares, two triangles each; (graph, column of each face)."""
    xs, ys = np.meshgrid(np.arange(columns + 1), np.arange(rows + 1), indexing="ij")
    vertices = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1).astype(np.float64)
    index = np.arange(vertices.shape[0]).reshape(columns + 1, rows + 1)
    triangles, column = [], []
    for i in range(columns):
        for j in range(rows):
            a, b, c, d = index[i, j], index[i + 1, j], index[i + 1, j + 1], index[i, j + 1]
            triangles += [[a, b, c], [a, c, d]]
            column += [i, i]
    return face_graph(vertices, np.array(triangles)), np.array(column)


def _points(graph, names: np.ndarray, sure: np.ndarray, features: np.ndarray):
    """One sample point per face: (point faces, name probabilities over 3 names, features)."""
    probs = np.zeros((graph.num_faces, 3))
    probs[np.arange(graph.num_faces), names] = sure
    probs[np.arange(graph.num_faces), (names + 1) % 3] = 1 - sure
    return np.arange(graph.num_faces), probs, features


def _two_halves(gap: float, sure: float, second_name: int = 0):
    graph, column = _strip()
    right = column >= 4
    features = np.zeros((graph.num_faces, 4))
    features[right, 0] = gap
    names = np.where(right, second_name, 0)
    return graph, right.astype(np.int64), _points(graph, names, np.full(graph.num_faces, sure), features)


def test_same_name_halves_join_when_the_name_is_sure_and_the_features_close():
    graph, labels, (faces, probs, features) = _two_halves(gap=0.1, sure=0.9)
    merged = merge_same_name(labels, graph, faces, probs, features, scale=1.0, floor=0.6)
    assert merged.max() == 0


def test_an_unsure_name_joins_nothing_however_close_the_features():
    # the wardrobe's doors: called "body" at 0.5, features nearly equal; they must stay two parts
    graph, labels, (faces, probs, features) = _two_halves(gap=0.0, sure=0.55)
    merged = merge_same_name(labels, graph, faces, probs, features, scale=1.0, floor=0.6)
    assert merged.max() == 1 and (merged[labels == 0] != merged[labels == 1][0]).all()


def test_a_sure_name_still_keeps_parts_whose_features_differ():
    graph, labels, (faces, probs, features) = _two_halves(gap=0.5, sure=0.9)
    assert merge_same_name(labels, graph, faces, probs, features, scale=1.0, floor=0.6).max() == 1
    # the same gap joins under a looser scale: the threshold grows with the certainty
    assert merge_same_name(labels, graph, faces, probs, features, scale=2.0, floor=0.6).max() == 0


def test_a_sure_name_joins_pieces_whose_features_together_stay_one_part():
    # the rock: three segments all "rock" at 0.76-0.94, 0.27-0.31 apart; the gap rule kept them apart
    graph, labels, (faces, probs, features) = _two_halves(gap=0.5, sure=0.9)
    joined = merge_same_name(labels, graph, faces, probs, features, 1.0, 0.6, whole_sure=0.7, whole_spread=0.35)
    assert joined.max() == 0                          # together they spread 0.25: one part
    wide = merge_same_name(labels, graph, faces, probs, features, 1.0, 0.6, whole_sure=0.7, whole_spread=0.2)
    assert wide.max() == 1                            # wider than the limit: still two
    unsure = merge_same_name(labels, graph, faces, probs, features, 1.0, 0.6, whole_sure=0.95, whole_spread=0.35)
    assert unsure.max() == 1                          # a name under whole_sure joins nothing this way
    third = labels.copy()                             # a third region named otherwise: not one-name
    third[(np.arange(graph.num_faces) % 8 == 0) & (labels == 0)] = 2
    probs[third == 2] = np.roll(probs[third == 2], 1, axis=1)
    mixed = merge_same_name(third, graph, faces, probs, features, 1.0, 0.6, whole_sure=0.7, whole_spread=0.35)
    assert mixed[(third == 0)][0] != mixed[third == 1][0]   # the two halves stay apart


def test_different_names_never_join():
    graph, labels, (faces, probs, features) = _two_halves(gap=0.0, sure=0.99, second_name=1)
    assert merge_same_name(labels, graph, faces, probs, features, scale=1.0, floor=0.6).max() == 1


def test_a_segment_with_wide_features_is_cut_along_the_models_split():
    graph, column = _strip()
    one = np.zeros(graph.num_faces, dtype=np.int64)
    model = (column >= 5).astype(np.int64)          # the model sees a second part on 3 of 8 columns
    features = np.zeros((graph.num_faces, 4))
    features[column >= 5, 0] = 1.0                   # and its features say so: spread ~0.47
    faces = np.arange(graph.num_faces)
    cut = split_mixed_regions(one, graph, model, faces, features, spread=0.35, share=0.2)
    assert cut.max() == 1 and (cut[column >= 5] == cut[column >= 5][0]).all()
    assert cut[column < 5][0] != cut[column >= 5][0]


def test_a_tight_segment_or_a_small_piece_is_not_cut():
    graph, column = _strip()
    one = np.zeros(graph.num_faces, dtype=np.int64)
    faces = np.arange(graph.num_faces)
    model = (column >= 5).astype(np.int64)
    tight = np.zeros((graph.num_faces, 4))
    tight[column >= 5, 0] = 0.2                       # spread under the limit: one part after all
    assert split_mixed_regions(one, graph, model, faces, tight, spread=0.35, share=0.2).max() == 0
    wide = np.zeros((graph.num_faces, 4))
    wide[column == 7, 0] = 3.0                        # wide, but the model's piece is 1/8 < share 0.2
    small = (column == 7).astype(np.int64)
    assert split_mixed_regions(one, graph, small, faces, wide, spread=0.35, share=0.2).max() == 0


def test_faces_marked_negative_are_never_cut_off():
    # the hybrid marks the model's unsure parts -1: a wide segment keeps them (the PartNet bottle
    # read as back/shelf must not be cut along that reading)
    graph, column = _strip()
    one = np.zeros(graph.num_faces, dtype=np.int64)
    features = np.zeros((graph.num_faces, 4))
    features[column >= 5, 0] = 1.0
    unsure = np.where(column >= 5, -1, 0)
    faces = np.arange(graph.num_faces)
    assert split_mixed_regions(one, graph, unsure, faces, features, spread=0.35, share=0.2).max() == 0
