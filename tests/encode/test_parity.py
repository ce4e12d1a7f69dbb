"""Parity with the reference implementation (FlagEmbedding) on the tiny M3 checkpoint.

The goldens were produced by FlagEmbedding's BGEM3FlagModel in fp32 on CPU
(``scripts/make_parity_goldens.py``); m3search must match them to 1e-5.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from m3search import colbert_score, colbert_scores, lexical_matching_score, pair_scores, sparse_scores
from m3search.types import Embeddings

TOL = 1e-5


@pytest.fixture(scope="module")
def golden(fixtures_dir):
    return json.loads((fixtures_dir / "tiny-m3-goldens.json").read_text())


@pytest.fixture(scope="module")
def encoded(tiny_m3, golden):
    return {
        "queries": tiny_m3.encode(golden["queries"], role="query", parts="all"),
        "passages": tiny_m3.encode(golden["passages"], parts="all", batch_size=3),
        "truncated": tiny_m3.encode(golden["passages"], parts="all", max_length=golden["truncate_to"]),
    }


def assert_same_encoding(ours: Embeddings, ref: dict) -> None:
    np.testing.assert_allclose(ours.dense, np.array(ref["dense"]), atol=TOL, rtol=0)
    for mine, theirs in zip(ours.sparse, ref["lexical_weights"]):
        theirs = {int(k): v for k, v in theirs.items()}
        assert set(mine.to_dict()) == set(theirs)
        for token, weight in mine.to_dict().items():
            assert weight == pytest.approx(theirs[token], abs=TOL)
        assert mine.ids.dtype.kind == "i"
    for mine, theirs in zip(ours.colbert, ref["colbert"]):
        assert mine.shape == np.array(theirs).shape
        np.testing.assert_allclose(mine, np.array(theirs), atol=TOL, rtol=0)


@pytest.mark.parametrize(("key", "ref_key"), [("queries", "encode_queries"), ("passages", "encode_passages"),
                                               ("truncated", "encode_passages_truncated")])
def test_encode_matches_reference(encoded, golden, key, ref_key):
    assert_same_encoding(encoded[key], golden[ref_key])


def test_sparse_outputs_drop_special_and_unknown_tokens(encoded):
    for vector in list(encoded["queries"].sparse) + list(encoded["passages"].sparse):
        assert not set(vector.ids.tolist()) & {0, 1, 2, 3}
        assert (vector.weights > 0).all()
        assert (np.diff(vector.ids) > 0).all(), "one weight per token id, ids sorted"


def test_lexical_matching_score_matches_reference(encoded, golden):
    q, p = encoded["queries"].sparse, encoded["passages"].sparse
    expected = np.array(golden["lexical_matching_score"])
    np.testing.assert_allclose(sparse_scores(q, p), expected, atol=TOL)
    assert lexical_matching_score(q[0], p[0]) == pytest.approx(expected[0, 0], abs=TOL)


def test_colbert_score_matches_reference(encoded, golden):
    q, p = encoded["queries"].colbert, encoded["passages"].colbert
    expected = np.array(golden["colbert_score"])
    np.testing.assert_allclose(colbert_scores(q, p), expected, atol=TOL)
    assert colbert_score(q[1], p[1]) == pytest.approx(expected[1, 1], abs=TOL)


@pytest.mark.parametrize("weights", ["[0.4, 0.2, 0.4]", "[1.0, 0.3, 1.0]"])
def test_compute_score_matches_reference(encoded, golden, weights):
    n = len(golden["pairs"])
    w = dict(zip(("dense", "sparse", "colbert"), json.loads(weights)))
    ours = pair_scores(encoded["queries"].take(range(n)), encoded["passages"].take(range(n)), w)
    for mode, values in golden["compute_score"][weights].items():
        np.testing.assert_allclose(ours[mode], np.array(values), atol=TOL, err_msg=mode)
