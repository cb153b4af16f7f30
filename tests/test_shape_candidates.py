"""Candidate selection for the learned generator: keep the first shape that is one piece."""
import numpy as np
import pytest

from backend.geometry.extract import GridMemo
from backend.runtime import CancelToken, Cancelled
from backend.models.shape_candidates import (CONNECTED_SHARE, Candidate, candidate_seed, coarse_share, most_connected,
                                             pieces_warning, selection_report)


def sphere(centre, radius):
    centre = np.asarray(centre, dtype=np.float32)
    return lambda p: np.linalg.norm(p - centre, axis=1) - radius


def two_spheres(p):
    return np.minimum(sphere((-0.5, 0, 0), 0.3)(p), sphere((0.5, 0, 0), 0.3)(p))


def test_candidate_seeds_start_at_the_users_seed_and_are_reproducible():
    assert candidate_seed(42, 0) == 42
    others = [candidate_seed(42, k) for k in range(1, 6)]
    assert len(set(others + [42])) == 6
    assert others == [candidate_seed(42, k) for k in range(1, 6)]
    assert all(0 <= s < 2 ** 31 for s in others)
    assert candidate_seed(43, 1) != candidate_seed(42, 1)


def test_coarse_share_tells_one_piece_from_two_and_from_none():
    assert coarse_share(sphere((0, 0, 0), 0.5), 1.0, 0.0) == pytest.approx(1.0)
    assert coarse_share(two_spheres, 1.0, 0.0) == pytest.approx(0.5, abs=0.02)
    assert coarse_share(lambda p: np.ones(len(p), dtype=np.float32), 1.0, 0.0) == 0.0     # no surface


def make_sampler(fields, calls):
    """A sampler over analytic fields (one per candidate index), recording how it was called."""
    def sample(seeds, first):
        calls.append((list(seeds), first))
        return [((first + i, seed), GridMemo(fields[first + i], 1.0, 128)) for i, seed in enumerate(seeds)]
    return sample


def test_stops_at_the_first_connected_candidate_and_samples_the_rest_in_one_batch():
    calls = []
    fields = [two_spheres, two_spheres, sphere((0, 0, 0), 0.5), two_spheres]
    kept, tried = most_connected(make_sampler(fields, calls), 5, 4, 1.0, 0.0)
    assert kept.index == 2 and kept.shape == (2, candidate_seed(5, 2)) and kept.share >= CONNECTED_SHARE
    assert len(tried) == 3                                                # the fourth was never judged
    assert calls == [([5], 0), ([candidate_seed(5, k) for k in (1, 2, 3)], 1)]
    report = selection_report(kept, tried)
    assert report["kept"] == 2 and report["seed"] == kept.seed and "first" in report["reason"]
    assert [t["coarse_share"] for t in report["tried"]][:2] == pytest.approx([0.5, 0.5], abs=0.02)


def test_a_connected_first_candidate_costs_no_more_sampling():
    calls = []
    kept, tried = most_connected(make_sampler([sphere((0, 0, 0), 0.5)] * 4, calls), 0, 4, 1.0, 0.0)
    assert kept.index == 0 and len(tried) == 1 and calls == [([0], 0)]


def test_when_none_is_connected_the_most_connected_is_kept_and_said():
    calls = []
    lopsided = lambda p: np.minimum(sphere((-0.4, 0, 0), 0.45)(p), sphere((0.6, 0, 0), 0.2)(p))
    kept, tried = most_connected(make_sampler([two_spheres, lopsided, two_spheres], calls), 0, 3, 1.0, 0.0)
    assert len(tried) == 3 and kept.index == 1 and 0.6 < kept.share < CONNECTED_SHARE
    assert "most connected" in selection_report(kept, tried)["reason"]
    with pytest.raises(ValueError):
        most_connected(make_sampler([two_spheres], []), 0, 0, 1.0, 0.0)


def test_a_shape_still_in_pieces_is_said_plainly():
    tried = [Candidate(0, 0, None, 0.4), Candidate(1, 9, None, 0.6)]
    assert pieces_warning("m", {"largest_piece_share": 0.97, "pieces": 2, "dropped": 1}, tried) is None
    said = pieces_warning("kiln-shape-s", {"largest_piece_share": 0.62, "pieces": 5, "dropped": 2}, tried)
    assert said == ("kiln-shape-s made this shape in 3 separate pieces (the largest holds 62% of the surface; "
                    "2 candidates tried); try another seed.")


def test_cancel_stops_the_candidates():
    token = CancelToken()

    def sample(seeds, first):
        token.cancel()                                  # cancelled while the first candidate was sampled
        return [((first, seeds[0]), GridMemo(two_spheres, 1.0, 128))]
    with pytest.raises(Cancelled):
        most_connected(sample, 0, 4, 1.0, 0.0, token)
