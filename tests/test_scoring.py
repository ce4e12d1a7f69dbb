"""Scores computed by hand on tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest

from m3search.scoring import (
    colbert_score,
    colbert_scores,
    combine,
    dense_scores,
    lexical_matching_score,
    pair_scores,
    sparse_scores,
)
from m3search.types import Embeddings, Ragged, SparseBatch, SparseVector


def sv(d: dict[int, float]) -> SparseVector:
    ids = np.array(sorted(d), dtype=np.int64)
    return SparseVector(ids, np.array([d[i] for i in ids], dtype=np.float32))


def test_sparse_scores_equal_pairwise_lexical_matching():
    queries = [{1: 0.5, 7: 0.25}, {}, {3: 1.0}]
    docs = [{1: 0.2, 3: 0.4}, {7: 2.0, 1: 1.0, 9: 9.0}, {}, {2: 1.0}]
    matrix = sparse_scores(SparseBatch.from_vectors([sv(q) for q in queries]),
                           SparseBatch.from_vectors([sv(d) for d in docs]))
    expected = [[0.1, 1.0, 0, 0], [0, 0, 0, 0], [0.4, 0, 0, 0]]
    np.testing.assert_allclose(matrix, expected, atol=1e-7)
    for i, q in enumerate(queries):
        for j, d in enumerate(docs):
            assert lexical_matching_score(q, d) == pytest.approx(expected[i][j], abs=1e-7)


def test_colbert_takes_best_document_token_per_query_token_and_averages():
    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    d = np.array([[0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    # best per query token: 0.8, 1.0, max(0.48+0.48, 0.8) = 0.96 -> mean 0.92
    assert colbert_score(q, d) == pytest.approx(0.92, abs=1e-6)
    matrix = colbert_scores(Ragged.from_arrays([q]), Ragged.from_arrays([d, d[:1], np.zeros((0, 2), np.float32)]))
    np.testing.assert_allclose(matrix, [[0.92, (0.8 + 0.6 + 0.96) / 3, 0.0]], atol=1e-6)


def test_dense_scores_are_inner_products():
    np.testing.assert_allclose(dense_scores(np.eye(2), np.array([[0.6, 0.8]])), [[0.6], [0.8]])


def test_combine_divides_by_the_weight_sum_of_modes_present():
    scores = {"dense": np.array([0.5]), "sparse": np.array([0.2]), "colbert": np.array([0.8])}
    weights = {"dense": 1.0, "sparse": 0.3, "colbert": 1.0}
    assert combine(scores, weights)[0] == pytest.approx((0.5 + 0.06 + 0.8) / 2.3)
    with pytest.raises(ValueError, match="colbert"):
        combine(scores, {"dense": 1.0, "sparse": 1.0})


def test_pair_scores_keys_follow_compute_score():
    e = Embeddings(
        dense=np.array([[1.0, 0.0]], np.float32),
        sparse=SparseBatch.from_vectors([sv({4: 0.5})]),
        colbert=Ragged.from_arrays([np.array([[1.0, 0.0]], np.float32)]),
    )
    out = pair_scores(e, e, {"dense": 0.4, "sparse": 0.2, "colbert": 0.4})
    assert set(out) == {"dense", "sparse", "colbert", "sparse+dense", "colbert+sparse+dense"}
    assert out["sparse+dense"][0] == pytest.approx((0.4 * 1 + 0.2 * 0.25) / 0.6)
    assert out["colbert+sparse+dense"][0] == pytest.approx((0.4 + 0.05 + 0.4) / 1.0)
