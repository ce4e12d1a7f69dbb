"""The rerank stage: a cross-encoder rescoring each query's first ``depth`` hits (no torch: the
reranker is passed in, see :class:`~m3search.protocols.RerankerLike`).

A reranked hit's ``score`` is the cross-encoder's; its ``scores`` keep every earlier stage's
(each part's, and the first stage's final score under the mode's name) beside ``rerank``. Ties
keep the first stage's order. Hits past ``depth`` are not returned: their first-stage scores are
on another scale.

>>> class Overlap:  # a stand-in reranker: words shared by query and passage
...     name = "overlap"
...     def score(self, pairs, *, max_length=512, normalize=False):
...         return [len(set(q.split()) & set(p.split())) for q, p in pairs]
>>> hits = [[Hit("a", 0.9, {"dense": 0.9}, "red apple"), Hit("b", 0.8, {"dense": 0.8}, "green pear tree")]]
>>> top = rerank_hits(Overlap(), ["green tree"], hits, depth=2, k=2, mode="dense")[0]
>>> [(h.id, h.score, h.scores) for h in top]
[('b', 2.0, {'dense': 0.8, 'rerank': 2.0}), ('a', 0.0, {'dense': 0.9, 'rerank': 0.0})]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..errors import ConfigurationError
from ..protocols import RerankerLike
from ..types import Hit, Run

#: The key of the cross-encoder's score in a hit's ``scores``.
RERANK = "rerank"


def check_depth(depth: int, k: int) -> None:
    """Refuse a depth below 1 or below the hits asked for."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ConfigurationError(f"rerank_depth must be an integer >= 1, got {depth!r}")
    if k > depth:
        raise ConfigurationError(f"k ({k}) exceeds rerank_depth ({depth}): the reranker orders only the first "
                                 f"{depth} hits; ask for fewer hits or rerank deeper")


def rerank_hits(reranker: RerankerLike, queries: Sequence[str], hits: Sequence[Sequence[Hit]], *, depth: int, k: int,
                mode: str, max_length: int = 512) -> list[list[Hit]]:
    """Each query's first ``depth`` hits rescored by ``reranker`` (one call for all queries), best ``k`` first."""
    check_depth(depth, k)
    pairs = []
    for query, row in zip(queries, hits):
        for hit in row[:depth]:
            if hit.text is None:
                raise ConfigurationError(f"reranking reads the documents' texts, and {hit.id!r} has none stored: "
                                         "index the texts (Index.add(..., texts=...), or m3search index)")
            pairs.append((query, hit.text))
    scores = [float(s) for s in reranker.score(pairs, max_length=max_length)] if pairs else []
    out, start = [], 0
    for row in hits:
        head = list(row[:depth])
        mine = scores[start : start + len(head)]
        start += len(head)
        rescored = [replace(h, score=s, scores={**h.scores, **({mode: h.score} if mode not in h.scores else {}),
                                                RERANK: s}) for h, s in zip(head, mine)]
        order = sorted(range(len(rescored)), key=lambda j: (-rescored[j].score, j))
        out.append([rescored[j] for j in order[:k]])
    return out


def rerank_run(reranker: RerankerLike, queries: Mapping[str, str], run: Run, texts: Mapping[str, str], *, depth: int,
               max_length: int = 512) -> Run:
    """A run (``{qid: {doc_id: score}}``) whose first ``depth`` documents per query are rescored
    by ``reranker``: the evaluation's rerank rows.

    >>> class Length:
    ...     name = "length"
    ...     def score(self, pairs, *, max_length=512, normalize=False):
    ...         return [len(p) for _, p in pairs]
    >>> rerank_run(Length(), {"q": "x"}, {"q": {"a": 2.0, "b": 1.0, "c": 0.5}}, {"a": "1", "b": "22", "c": "333"}, depth=2)
    {'q': {'b': 2.0, 'a': 1.0}}
    """
    hits = {qid: [Hit(d, s, {}, texts[d]) for d, s in sorted(docs.items(), key=lambda x: -x[1])]
            for qid, docs in run.items()}
    qids = list(hits)
    ranked = rerank_hits(reranker, [queries[q] for q in qids], [hits[q] for q in qids], depth=depth,
                         k=depth, mode="first", max_length=max_length)
    return {qid: {h.id: h.score for h in row} for qid, row in zip(qids, ranked)}
