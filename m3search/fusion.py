"""Fusing ranked lists (no torch). The weighted sum of exact scores is :func:`m3search.scoring.combine`."""

from __future__ import annotations

from typing import Sequence

#: The usual RRF constant (Cormack et al., 2009).
RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """``sum over lists of 1 / (k + rank)``, ranks from 1; a list that misses an id adds nothing.

    >>> fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=1)
    >>> [(doc, round(score, 3)) for doc, score in sorted(fused.items(), key=lambda x: -x[1])]
    [('b', 0.833), ('a', 0.5), ('c', 0.333)]
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (k + rank)
    return fused
