"""A prior over the vocabulary for the sparse head: how informative each token id is, from a corpus.

A sparse head weighs a token by its context (``relu(linear(h))``); it is not told which tokens
are rare. The prior gives it that, as BM25's inverse document frequency over a corpus of
passages, scaled to a mean of one over the vocabulary and raised to ``alpha``:
``prior[t] = (idf(t) / mean idf) ** alpha``. The network multiplies each token's weight by
``prior[token id]`` (:meth:`m3search.encode.backends.torch.M3Network.token_weights`), so every
backend and the training loss see the same weights. ``m3search train --sparse-idf-prior ALPHA``
counts it over the training passages and saves it beside the heads (``sparse_prior.pt``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def idf(token_ids: Iterable[Sequence[int]], vocab_size: int) -> tuple[np.ndarray, int]:
    """BM25's ``log(1 + (n - df + 0.5) / (df + 0.5))`` of every token id over ``n`` passages.

    >>> values, n = idf([[5, 6, 6], [5, 7]], 8)
    >>> n, round(float(values[5]), 3), round(float(values[6]), 3), round(float(values[0]), 3)
    (2, 0.182, 0.693, 1.792)
    """
    df = np.zeros(vocab_size, np.int64)
    n = 0
    for ids in token_ids:
        df[np.unique(np.asarray(ids, np.int64))] += 1
        n += 1
    return np.log1p((n - df + 0.5) / (df + 0.5)), n


def idf_prior(token_ids: Iterable[Sequence[int]], vocab_size: int, alpha: float) -> np.ndarray:
    """``(idf / mean idf) ** alpha`` per token id, float32: the sparse head's prior.

    >>> prior = idf_prior([[5, 6, 6], [5, 7]], 8, alpha=1.0)
    >>> round(float(prior.mean()), 6), bool(prior[5] < prior[6] < prior[0])
    (1.0, True)
    """
    if not alpha > 0:
        raise ValueError(f"the prior's exponent alpha must be > 0, got {alpha!r}")
    values, n = idf(token_ids, vocab_size)
    if n == 0:
        raise ValueError("an IDF prior needs at least one passage")
    return ((values / values.mean()) ** alpha).astype(np.float32)
