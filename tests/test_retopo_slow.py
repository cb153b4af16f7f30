"""Slow retopo checks: every corpus mesh in every mode, and a 1M-face mesh (pytest -m slow)."""
import numpy as np
import pytest

import mesh_corpus
from backend.geometry.metrics import topology_stats
from backend.ops import retopo
from backend.runtime import CancelToken, no_progress

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
    if mode == "lowpoly":
        assert out.num_faces <= 1500  # a ceiling
    assert out.info["report"]


def test_million_faces_quad_and_tri():
    mesh = mesh_corpus.load("large")
    assert mesh.num_faces >= 999_000
    for mode in ("quad", "tri"):
        out = retopo.run({"mesh": mesh}, {"target_faces": 5000, "mode": mode}, no_progress, CancelToken())["mesh"]
        assert abs(out.num_faces - 5000) <= 500
        assert topology_stats(out).euler == 0  # still a torus
