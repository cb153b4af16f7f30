"""The lowpoly path: a matching over the whole dual graph, and the face budget as a hard ceiling."""
import numpy as np

import mesh_corpus
from backend.geometry.dual_matching import heavy_matching
from backend.geometry.lowpoly import lowpoly_mesh
from backend.geometry.metrics import surface_distance, topology_stats
from backend.geometry.polymesh import payload_from_mixed
from backend.geometry.sharp_features import interior_edges
from backend.ops import retopo
from backend.procedural.meshing import watertight_mesh
from backend.procedural.registry import generate
from backend.runtime import CancelToken, no_progress
from shared.payload import MeshPayload


def lowpoly_op(mesh, target):
    out = retopo.run({"mesh": mesh}, {"target_faces": target, "mode": "lowpoly"}, no_progress, CancelToken())["mesh"]
    out.validate()
    return out


def test_matching_reaches_the_exact_maximum_cardinality():
    import networkx as nx

    mesh = mesh_corpus.load("torus")  # 1152 triangles: networkx's exact blossom takes a few seconds
    triangles = mesh.triangulated().astype(np.int64)
    _, pairs = interior_edges(triangles)
    rng = np.random.default_rng(1)
    keep = pairs[rng.random(len(pairs)) < 0.6]  # a sparser graph leaves odd pieces: harder
    chosen = heavy_matching(len(triangles), keep, rng.random(len(keep)))
    matched = keep[chosen].reshape(-1)
    assert len(np.unique(matched)) == len(matched)  # a matching: no triangle twice
    graph = nx.Graph()
    graph.add_edges_from(map(tuple, keep.tolist()))
    exact = len(nx.max_weight_matching(graph, maxcardinality=True))
    assert len(chosen) >= 0.995 * exact


def test_budget_is_a_hard_ceiling():
    for name, target in (("bunny", 777), ("cow", 100), ("torus", 8), ("many_components", 60), ("cube", 33)):
        out = lowpoly_op(mesh_corpus.load(name), target)
        assert 0 < out.num_faces <= target, name
        assert set(np.unique(out.face_sizes)) <= {3, 4}


def test_quad_ratio_on_an_artist_like_input():
    """A procedural barrel's dense SDF mesh rebuilt at twice the artist's face count."""
    asset = generate("barrel", 0)
    v, f, _ = watertight_mesh(asset, 64)
    target = 2 * asset.artist_mesh().num_faces
    notes = []
    out = payload_from_mixed(*lowpoly_mesh(v, f, target, notes=notes))
    stats = topology_stats(out)
    assert out.num_faces <= target and out.num_faces >= 0.9 * target
    assert stats.quad_ratio >= 0.75 and stats.euler == 2 and stats.nonmanifold_edges == 0  # 0.80 measured
    assert surface_distance(out, MeshPayload.from_triangles(v, f), samples=5000).hausdorff < 0.02
    assert any("matching" in n for n in notes)


def test_bad_inputs_come_back_valid_within_budget_saying_how():
    rng = np.random.default_rng(0)
    loose = MeshPayload.from_triangles(rng.normal(size=(600, 3)), np.arange(600).reshape(-1, 3))
    out = lowpoly_op(loose, 100)
    assert out.num_faces == 100
    assert any("100 of 200 pieces dropped" in line for line in out.info["report"])

    plane = MeshPayload(positions=np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32),
                        face_sizes=np.array([4], np.int32), face_indices=np.arange(4, dtype=np.int32))
    out = lowpoly_op(plane, 50)
    stats = topology_stats(out)
    assert out.num_faces <= 50 and stats.boundary_edges > 0 and stats.quad_ratio > 0.5
    assert np.allclose(out.positions[:, 2], 0)

    out = lowpoly_op(mesh_corpus.load("torus"), 8)
    assert out.num_faces <= 8 and any("convex hull" in line for line in out.info["report"])
