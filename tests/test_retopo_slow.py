"""Slow retopo checks: every corpus mesh in every mode, and a 1M-face mesh (pytest -m slow)."""
import numpy as np
import pytest

import mesh_corpus
from backend.geometry import quad_remesh, repair
from backend.geometry.metrics import topology_stats
from backend.ops import retopo
from backend.ops.base import CancelToken, no_progress

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mode", ["quad", "lowpoly", "tri"])
@pytest.mark.parametrize("name", mesh_corpus.names("default"))
def test_every_corpus_mesh_gives_a_result_near_the_target(name, mode):
    out = retopo.run({"mesh": mesh_corpus.load(name)}, {"target_faces": 1500, "mode": mode}, no_progress,
                     CancelToken())["mesh"]
    out.validate()
    assert abs(out.num_faces - 1500) <= 150, out.info["report"]
    stats = topology_stats(out)
    if mode == "quad":
        assert stats.quad_ratio > 0.9
    if mode == "tri":
        assert set(np.unique(out.face_sizes)) == {3}
    assert out.info["report"]


def test_million_faces_quad_and_tri():
    mesh = mesh_corpus.load("large")
    assert mesh.num_faces >= 999_000
    for mode in ("quad", "tri"):
        out = retopo.run({"mesh": mesh}, {"target_faces": 5000, "mode": mode}, no_progress, CancelToken())["mesh"]
        assert abs(out.num_faces - 5000) <= 500
        assert topology_stats(out).euler == 0  # still a torus


def test_quad_counts_centre_on_the_budget():
    """QuadriFlow returns fewer quads than asked and the cleanup collapses some: with collapses down
    to 10% under the budget these came out 2.7% low on average (1824 to 2096, mean 1946); with
    collapses stopping 5% under it, 1.4% (1836 to 2096, mean 1972)."""
    counts = []
    for name in ("torus", "uv_sphere", "cube", "cylinder", "grid", "bracket", "bone", "airplane", "bunny", "holes"):
        mesh = mesh_corpus.load(name)
        part = repair.clean(mesh.positions, mesh.triangulated(), [])
        counts.append(quad_remesh.remesh_quads([part], [2000])[0].faces)
    assert all(abs(c - 2000) <= 200 for c in counts), counts
    assert abs(np.mean(counts) - 2000) <= 45, counts
