"""Teacher scores for training groups (``m3search mine --teacher``): each positive's and
negative's score for its query, from a cross-encoder or from an M3 model's `all` score, written
as ``pos_scores``/``neg_scores`` for ``m3search train --knowledge-distillation`` (no torch here:
the models are passed in).

>>> from m3search.train.groups import TrainGroup
>>> groups = [TrainGroup("nile", ("The Nile river",), ("A mountain", "The Nile delta"))]
>>> overlap = lambda pairs: [len(set(q.lower().split()) & set(p.lower().split())) for q, p in pairs]
>>> scored = with_teacher_scores(groups, overlap)[0]
>>> scored.pos_scores, scored.neg_scores
((1.0,), (0.0, 1.0))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from .groups import TrainGroup

if TYPE_CHECKING:
    from ..protocols import EncoderLike, RerankerLike

#: ``pairs -> scores``: one score per (query, passage) pair, in input order.
PairScorer = Callable[[list[tuple[str, str]]], Sequence[float]]


def with_teacher_scores(groups: Sequence[TrainGroup], scorer: PairScorer) -> list[TrainGroup]:
    """``groups`` with every positive and negative scored by ``scorer`` (one call for all pairs)."""
    pairs = [(g.query, p) for g in groups for p in (*g.pos, *g.neg)]
    scores = [float(s) for s in scorer(pairs)] if pairs else []
    out, start = [], 0
    for g in groups:
        n_pos, n_neg = len(g.pos), len(g.neg)
        mine = scores[start : start + n_pos + n_neg]
        start += n_pos + n_neg
        out.append(replace(g, pos_scores=tuple(mine[:n_pos]), neg_scores=tuple(mine[n_pos:])))
    return out


def cross_encoder_scorer(reranker: RerankerLike, max_length: int = 512) -> PairScorer:
    """A cross-encoder's logits as teacher scores (FlagEmbedding's reranker distillation data)."""
    return lambda pairs: reranker.score(pairs, max_length=max_length)


def m3_scorer(encoder: EncoderLike, weights: dict[str, float] | None = None) -> PairScorer:
    """An M3 model's `all` score (the weighted sum of its three scores, divided by the weights'
    sum, as ``compute_score`` gives it); each distinct text is encoded once."""
    from ..scoring import DEFAULT_WEIGHTS, combine, pair_scores

    chosen = dict(weights or DEFAULT_WEIGHTS)

    def score(pairs: list[tuple[str, str]]) -> Sequence[float]:
        queries = list(dict.fromkeys(q for q, _ in pairs))
        passages = list(dict.fromkeys(p for _, p in pairs))
        q_emb = encoder.encode(queries, role="query", parts="all")
        p_emb = encoder.encode(passages, parts="all")
        q_at, p_at = {q: i for i, q in enumerate(queries)}, {p: i for i, p in enumerate(passages)}
        rows = np.array([q_at[q] for q, _ in pairs]), np.array([p_at[p] for _, p in pairs])
        per_part = pair_scores(q_emb.take(rows[0].tolist()), p_emb.take(rows[1].tolist()))
        return combine({part: per_part[part] for part in ("dense", "sparse", "colbert") if part in per_part},
                       chosen).tolist()

    return score
