"""Candidate selection for the learned generator: keep the first shape that is one piece."""
import numpy as np
import pytest

from backend.geometry.extract import GridMemo
from backend.runtime import CancelToken, Cancelled
from backend.models.shape_candidates import (CONNECTED_SHARE, LEVEL_OFFSETS, Candidate, candidate_seed, coarse_share,
                                             judge, most_connected, pieces_warning, selection_report)


def sphere(centre, radius):
    centre = np.asarray(centre, dtype=np.float32)
    return lambda p: np.linalg.norm(p - centre, axis=1) - radius


def two_spheres(p):
    return np.minimum(sphere((-0.5, 0, 0), 0.3)(p), sphere((0.5, 0, 0), 0.3)(p))


def near_miss(p, neck_radius=0.15, gap=0.01):
    """Two spheres and, between them, a thick neck the field leaves 0.01 above zero: two pieces at
    the model's level, one from level +0.01 on (the learned field's near miss across a thin part)."""
    a, b = np.array([-0.5, 0, 0], np.float32), np.array([0.5, 0, 0], np.float32)
    t = np.clip((p - a) @ (b - a) / ((b - a) @ (b - a)), 0, 1)
    neck = np.maximum(np.linalg.norm(p - (a + t[:, None] * (b - a)), axis=1) - neck_radius, 0.0) + gap
    return np.minimum(two_spheres(p), neck)


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


def test_a_near_miss_is_joined_at_the_lowest_offset_that_makes_one_piece():
    assert coarse_share(near_miss, 1.0, 0.0) == pytest.approx(0.5, abs=0.02)
    kept, tried = most_connected(make_sampler([near_miss] * 4, calls := []), 0, 4, 1.0, 0.0)
    first_joining = min(o for o in LEVEL_OFFSETS if o > 0.01)
    assert kept.index == 0 and kept.offset == first_joining and kept.share >= CONNECTED_SHARE
    assert calls == [([0], 0)], "joined by an offset: no more candidates sampled"
    assert kept.added_volume > 0
    assert all(share < CONNECTED_SHARE for offset, share in kept.offsets.items() if offset < first_joining)
    report = selection_report(kept, tried)
    assert report["level_offset"] == first_joining and f"+{first_joining:g}" in report["reason"]
    assert judge(near_miss, 1.0, first_joining).volume > judge(near_miss, 1.0, 0.0).volume


def test_a_shape_one_piece_at_the_models_level_beats_an_offset_in_the_same_batch():
    calls = []
    kept, tried = most_connected(make_sampler([two_spheres, near_miss, sphere((0, 0, 0), 0.5), near_miss], calls),
                                 0, 4, 1.0, 0.0)
    assert kept.index == 2 and kept.offset == 0.0 and len(tried) == 3


def test_the_offset_that_adds_the_least_volume_wins_and_far_pieces_are_never_joined():
    fat_neck = lambda p: near_miss(p, neck_radius=0.25)            # a wider neck: more volume added
    kept, tried = most_connected(make_sampler([two_spheres, fat_neck, near_miss, two_spheres], []), 0, 4, 1.0, 0.0)
    assert kept.index == 2 and kept.offset > 0
    assert tried[1].offset == kept.offset and tried[1].added_volume > kept.added_volume
    apart, _ = most_connected(make_sampler([two_spheres] * 2, []), 0, 2, 1.0, 0.0)
    assert apart.offset == 0.0 and apart.share == pytest.approx(0.5, abs=0.02)
    assert set(apart.offsets) == {0.0, *LEVEL_OFFSETS}, "every offset was tried before giving up"
    assert "also with the level raised" in selection_report(apart, _)["reason"]


def finish_on(field, kept):
    """ShapePipeline.finish on an analytic field (its extraction, bridges and clean-up run for real;
    the field stands in for a decoded latent)."""
    from backend.models.shape_pipeline import ShapePipeline

    pipeline = ShapePipeline.__new__(ShapePipeline)
    pipeline.config = {"sampler": {"bounds": 1.0, "level": 0.0}}
    params = {"face_budget": None}          # refine to 256^3: struts bridge gaps under half a cell (0.004) only
    return pipeline.finish(None, GridMemo(field, 1.0, 256), kept, 256, params, lambda *a: None, CancelToken())


def test_the_final_grid_gets_one_more_offset_when_it_splits_what_the_coarse_one_joined():
    small = lambda gap: (lambda p: near_miss(2 * p, gap=2 * gap) / 2)   # half the size: fewer cells to extract
    thin_gap = small(0.006)                                     # joined from +0.006: the first offset joins it
    judged_whole = Candidate(0, 0, None, share=1.0)             # as if the coarse grid had seen one piece
    vertices, faces, extraction, timings = finish_on(thin_gap, judged_whole)
    assert extraction["largest_piece_share"] >= CONNECTED_SHARE and extraction["level_offset"] == LEVEL_OFFSETS[0]
    assert extraction["level_retry"] == {"offset": LEVEL_OFFSETS[0], "largest_piece_share": pytest.approx(1.0),
                                         "kept": True}
    assert set(timings) == {"extract", "simplify"}

    wide_gap = small(0.012)                                     # the first offset does not join it: level 0 stays
    _, _, extraction, _ = finish_on(wide_gap, judged_whole)
    assert extraction["level_offset"] == 0.0 and extraction["largest_piece_share"] < CONNECTED_SHARE
    assert extraction["level_retry"]["kept"] is False

    _, _, extraction, _ = finish_on(thin_gap, Candidate(0, 0, None, share=0.5))   # judged in pieces: no retry
    assert "level_retry" not in extraction and extraction["level_offset"] == 0.0
