"""From a backend's raw per-token outputs to embeddings: pure numpy, shared by every backend.

For one text of ``n`` tokens (special tokens included, padding excluded):

- dense: CLS state (``hidden[0]``) or the mean of the ``n`` states, L2-normalised if asked;
- sparse: the maximum weight per token id, special tokens and weights ``<= 0`` dropped;
- multi-vector: rows ``1..n-1`` (CLS dropped, the closing ``</s>`` kept, as the reference
  does), each L2-normalised if asked.

Normalisation divides by ``max(norm, 1e-12)``, as ``torch.nn.functional.normalize`` does.
"""

from __future__ import annotations

import numpy as np

from ..types import SparseVector

EPS = 1e-12


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (at least 1e-12).

    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    norms = np.sqrt(np.einsum("...i,...i->...", x, x, dtype=np.float32))[..., None]
    return (x / np.maximum(norms, EPS)).astype(np.float32, copy=False)


def pool(hidden: np.ndarray, attention_mask: np.ndarray, pooling: str) -> np.ndarray:
    """One vector per text of a padded batch: ``(B, L, h)`` -> ``(B, h)``.

    >>> h = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    >>> pool(h, np.array([[1, 1, 0]]), "mean").tolist(), pool(h, np.array([[1, 1, 0]]), "cls").tolist()
    ([[2.0, 3.0, 4.0, 5.0]], [[0.0, 1.0, 2.0, 3.0]])
    """
    if pooling == "cls":
        return np.ascontiguousarray(hidden[:, 0], dtype=np.float32)
    mask = attention_mask.astype(np.float32)[..., None]
    return ((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)).astype(np.float32)


def lexical_weights(token_ids: np.ndarray, weights: np.ndarray, special_ids: np.ndarray) -> SparseVector:
    """The maximum weight per token id; special tokens and non-positive weights dropped.

    >>> lexical_weights(np.array([0, 7, 9, 7, 2]), np.array([.9, .2, .0, .5, .9], np.float32), np.array([0, 2])).to_dict()
    {7: 0.5}
    """
    keep = (weights > 0) & ~np.isin(token_ids, special_ids)
    ids, kept = token_ids[keep], weights[keep]
    unique, inverse = np.unique(ids, return_inverse=True)
    best = np.zeros(len(unique), dtype=np.float32)
    np.maximum.at(best, inverse, kept.astype(np.float32))
    return SparseVector(unique.astype(np.int64), best)


def multi_vectors(rows: np.ndarray, length: int, normalize: bool, width: int | None = None) -> np.ndarray:
    """Rows ``1..length-1`` of one text's per-token vectors (CLS dropped, ``</s>`` kept), their
    first ``width`` columns (a nested head's prefix) when given.

    >>> multi_vectors(np.array([[9.0, 9.0], [3.0, 4.0], [-2.0, 2.0]]), 3, True, width=1).tolist()
    [[1.0], [-1.0]]
    """
    kept = np.asarray(rows[1:length, :width], dtype=np.float32)
    return l2_normalize(kept) if normalize else kept


#: Placeholders for texts whose part is not filled yet.
EMPTY_SPARSE = SparseVector(np.zeros(0, np.int64), np.zeros(0, np.float32))
EMPTY_ROWS = np.zeros((0, 0), np.float32)
