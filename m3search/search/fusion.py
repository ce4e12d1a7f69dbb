"""Fusing per-mode results (no torch): the weighted sum of exact scores and reciprocal rank fusion.

The weighted sum is :func:`m3search.scoring.combine` (``sum_m w_m s_m / sum_m w_m``, as the
reference's ``compute_score``); RRF is :func:`reciprocal_rank_fusion`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ConfigurationError
from ..scoring import combine
from .modes import SINGLE_MODES

#: The usual RRF constant (Cormack et al., 2009).
RRF_K = 60

__all__ = ["RRF_K", "check_weights", "combine", "reciprocal_rank_fusion", "weighted_sum"]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """``sum over lists of 1 / (k + rank)``, ranks from 1; a list that misses an id adds nothing.

    >>> fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=1)
    >>> [(doc, round(score, 3)) for doc, score in sorted(fused.items(), key=lambda x: -x[1])]
    [('b', 0.833), ('a', 0.5), ('c', 0.333)]
    """
    if k < 0:
        raise ConfigurationError(f"rrf k must be >= 0, got {k}")
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (k + rank)
    return fused


def weighted_sum(per_doc: Mapping[str, Mapping[str, float]], parts: Sequence[str],
                 weights: Mapping[str, float]) -> dict[str, float]:
    """``{doc: combine(its scores of parts)}``; a part a document lacks counts as 0.

    >>> fused = weighted_sum({"a": {"dense": 0.5, "sparse": 0.2}}, ["dense", "sparse"], {"dense": 1, "sparse": 1})
    >>> round(fused["a"], 6)
    0.35
    """
    docs = list(per_doc)
    values = combine({p: np.array([per_doc[d].get(p, 0.0) for d in docs], dtype=np.float64) for p in parts}, weights)
    return dict(zip(docs, np.asarray(values).tolist()))


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The fusion weights, refused unless each is a finite number >= 0 for a known mode."""
    out = {}
    for mode, weight in dict(weights).items():
        if mode not in SINGLE_MODES:
            raise ConfigurationError(f"weights are given per mode {list(SINGLE_MODES)}, got {mode!r}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < 1e6:
            raise ConfigurationError(f"the weight of {mode!r} must be a number in [0, 1e6), got {weight!r}")
        out[mode] = float(weight)
    return out
