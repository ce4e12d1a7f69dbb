"""The losses by hand on tiny tensors, and the torch training scores against the numpy scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from m3search.scoring import colbert_scores as np_colbert_scores
from m3search.scoring import dense_scores as np_dense_scores
from m3search.scoring import sparse_scores as np_sparse_scores
from m3search.train.losses import head_loss, info_nce, kl_div, local_scores, m3_kd_loss, unified_loss
from m3search.train.scores import colbert_scores, dense_scores, lexical_vectors, sparse_scores
from m3search.types import Ragged, SparseBatch, SparseVector


def ce(row: list[float], target: int) -> float:
    return -row[target] + math.log(sum(math.exp(v) for v in row))


def test_info_nce_by_hand():
    scores = torch.tensor([[1.0, 0.5, 0.2, -0.3], [0.1, 0.4, 2.0, 0.0]])  # B=2, G=2
    expected = (ce([1.0, 0.5, 0.2, -0.3], 0) + ce([0.1, 0.4, 2.0, 0.0], 2)) / 2
    assert info_nce(scores, 2).item() == pytest.approx(expected, abs=1e-6)


def test_kl_div_and_local_scores_by_hand():
    teacher = torch.tensor([[0.7, 0.3]])
    student = torch.tensor([[1.0, 2.0]])
    log_z = math.log(math.exp(1) + math.exp(2))
    assert kl_div(teacher, student).item() == pytest.approx(-(0.7 * (1 - log_z) + 0.3 * (2 - log_z)), abs=1e-6)
    scores = torch.arange(12.0).view(2, 6)  # B=2, G=3
    assert local_scores(scores, 3).tolist() == [[0.0, 1.0, 2.0], [9.0, 10.0, 11.0]]


def test_m3_kd_loss_by_hand():
    scores = torch.tensor([[2.0, 1.0, 0.0, 0.5]])  # B=1, G=2 (plus 2 in-batch columns)
    teacher = torch.tensor([[0.6, 0.4]])
    first = ce([2.0, 1.0, 0.0, 0.5], 0)
    second = -1.0 + math.log(math.exp(1.0) + math.exp(0.0) + math.exp(0.5))  # column 0 masked out
    assert m3_kd_loss(teacher, scores, 2).item() == pytest.approx(0.6 * first + 0.4 * second, abs=1e-5)
    kl = head_loss(scores, 2, teacher, "kl_div").item()
    log_z = math.log(math.exp(2) + math.exp(1))
    assert kl == pytest.approx(-(0.6 * (2 - log_z) + 0.4 * (1 - log_z)) + first, abs=1e-5)
    with pytest.raises(ValueError, match="kd_loss_type"):
        head_loss(scores, 2, teacher, "mse")


def test_unified_loss_by_hand():
    d = torch.tensor([[1.0, 0.0, 0.5, 0.2], [0.3, 0.1, 0.9, 0.4]])
    s = torch.tensor([[0.2, 0.1, 0.0, 0.0], [0.0, 0.0, 0.3, 0.1]])
    c = torch.tensor([[0.8, 0.2, 0.4, 0.1], [0.2, 0.3, 0.7, 0.5]])
    e = d + 0.3 * s + c
    hard = (info_nce(d, 2) + info_nce(e, 2) + 0.1 * info_nce(s, 2) + info_nce(c, 2)) / 4
    out = unified_loss(d, s, c, 2, self_distill=False)
    assert out.loss.item() == pytest.approx(hard.item(), abs=1e-6)
    t = torch.softmax(e, dim=-1)
    distill = (kl_div(t, d) + 0.1 * kl_div(t, s) + kl_div(t, c)) / 3
    out = unified_loss(d, s, c, 2, self_distill=True)
    assert out.loss.item() == pytest.approx(((hard + distill) / 2).item(), abs=1e-6)
    assert set(out.parts) == {"dense", "sparse", "colbert", "ensemble", "distill", "loss"}
    assert unified_loss(d, None, None, 2).loss.item() == pytest.approx(info_nce(d, 2).item(), abs=1e-6)


def test_torch_training_scores_equal_the_numpy_scores():
    rng = np.random.default_rng(0)

    def unit(rows: int, dim: int) -> np.ndarray:
        x = rng.normal(size=(rows, dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    q_dense, p_dense = unit(3, 8), unit(5, 8)
    np.testing.assert_allclose(dense_scores(torch.tensor(q_dense), torch.tensor(p_dense)).numpy(),
                               np_dense_scores(q_dense, p_dense), atol=1e-6)
    # colbert: ragged on the numpy side, padded with masks on the torch side
    q_rows, p_rows = [unit(n, 4) for n in (2, 5, 3)], [unit(n, 4) for n in (4, 1, 6, 2, 3)]

    def padded(rows: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        longest = max(len(r) for r in rows)
        data = np.zeros((len(rows), longest, 4), np.float32)
        mask = np.zeros((len(rows), longest), np.int64)
        for i, r in enumerate(rows):
            data[i, : len(r)], mask[i, : len(r)] = r, 1
        return torch.tensor(data), torch.tensor(mask)

    ours = colbert_scores(*padded(q_rows), *padded(p_rows)).numpy()
    np.testing.assert_allclose(ours, np_colbert_scores(Ragged.from_arrays(q_rows), Ragged.from_arrays(p_rows)),
                               atol=1e-6)
    # sparse: per-token weights max-merged into the vocabulary, special ids dropped
    ids = torch.tensor([[0, 7, 9, 7, 2], [0, 4, 9, 2, 1]])
    weights = torch.tensor([[0.9, 0.2, 0.4, 0.5, 0.9], [0.9, 0.3, 0.1, 0.9, 0.0]])
    full = lexical_vectors(ids, weights, 12, torch.tensor([0, 1, 2]))
    vectors = [SparseVector(np.array([7, 9]), np.array([0.5, 0.4], np.float32)),
               SparseVector(np.array([4, 9]), np.array([0.3, 0.1], np.float32))]
    batch = SparseBatch.from_vectors(vectors)
    np.testing.assert_allclose(sparse_scores(full, full).numpy(), np_sparse_scores(batch, batch), atol=1e-6)
