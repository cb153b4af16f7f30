"""The shared MiniLM encoder: matches sentence-transformers, normalised, memoised, masks right."""
import numpy as np
import pytest

from backend.models import text_encoder
from backend.models.text_encoder import EMBED_DIM, sentence_embeddings, token_embeddings

TEXTS = ["a wooden chair", "a seat for one person with four legs", "glass bottle", "a table"]


def test_matches_sentence_transformers_reference():
    from sentence_transformers import SentenceTransformer
    reference = SentenceTransformer(str(text_encoder.model_path()), device="cpu")
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    got = sentence_embeddings(TEXTS, device="cpu")
    assert got.shape == (len(TEXTS), EMBED_DIM) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_unit_length_and_semantic_order():
    e = sentence_embeddings(TEXTS + ["a chair"], device="cpu")
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    chair = e[-1]
    assert chair @ e[0] > chair @ e[2]  # "a wooden chair" is nearer "a chair" than "glass bottle"


def test_memoised_results_equal_fresh_ones():
    first = sentence_embeddings(["a small red mug"], device="cpu")
    assert ("cpu", "a small red mug") in text_encoder._sentence_cache
    again = sentence_embeddings(["a lamp", "a small red mug"], device="cpu")
    np.testing.assert_array_equal(again[1], first[0])


def test_token_embeddings_shape_mask_and_truncation():
    long = "a very long description of a tall wooden chair with a slatted back and four legs " * 4
    emb, mask = token_embeddings(["a chair", long], max_tokens=16, device="cpu")
    assert emb.shape == (2, 16, EMBED_DIM) and mask.shape == (2, 16) and mask.dtype == bool
    assert mask[0].sum() == 4  # [CLS] a chair [SEP]
    assert mask[1].all()
    assert np.all(emb[0, 4:] == 0) and np.abs(emb[0, :4]).sum() > 0
    # mean of the token states is the (unnormalised) sentence embedding
    pooled = emb[0, :4].mean(0)
    np.testing.assert_allclose(pooled / np.linalg.norm(pooled), sentence_embeddings(["a chair"], device="cpu")[0],
                               atol=1e-5)


def test_bad_input_is_rejected():
    with pytest.raises(TypeError):
        sentence_embeddings("a chair")
    with pytest.raises(TypeError):
        sentence_embeddings(["a chair", 3])
    with pytest.raises(ValueError):
        token_embeddings(["a chair"], max_tokens=1)
