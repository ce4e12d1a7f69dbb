"""Queries against an index (no torch): a :class:`QuerySpec` becomes engine requests, and the
engine's hits come back ranked the same way on every backend, with scores on m3search's scale
(:mod:`m3search.scoring`: a multi-vector MaxSim sum divided by the number of query rows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from ..scoring import rank_with_ties
from ..types import Embeddings
from .backends.engine import ScoredId, VectorQuery
from .vectors import VectorSpec


@dataclass(frozen=True)
class QuerySpec:
    """One batch of queries against one part: what :meth:`Index.query <m3search.index.Index.query>`
    takes, for :meth:`Index.query_many <m3search.index.Index.query_many>`."""

    mode: str
    queries: Embeddings
    limit: int
    filter: Mapping[str, Any] | None = None
    exact: bool = False
    restrict_to: Sequence[Sequence[str]] | None = None
    #: read each hit's document id from its payload; without it hits carry their point id only
    #: (``doc_id == ""``) and :meth:`Index.doc_ids <m3search.index.Index.doc_ids>` names the few a
    #: caller keeps
    doc_ids: bool = True
    #: the HNSW beam width of the search (None: the engine's default); ignored by exact and
    #: restricted requests
    hnsw_ef: int | None = None


@dataclass(frozen=True)
class Prepared:
    """The engine requests of one spec (``None`` where a query has nothing to search) and how
    each query's raw scores are rescaled (``None``: they need not be)."""

    requests: list[VectorQuery | None]
    rescale: list[Callable[[float], float] | None]


def prepare(spec: QuerySpec, vectors: Mapping[str, VectorSpec]) -> Prepared:
    """The requests of ``spec`` against an index whose named vectors are ``vectors``.

    >>> import numpy as np
    >>> from m3search.index.vectors import VectorSpec
    >>> q = Embeddings(dense=np.array([[0.6, 0.8]], np.float32))
    >>> prepare(QuerySpec("dense", q, 5), {"dense": VectorSpec("dense", "dense", 2)}).requests[0].vector
    [0.6000000238418579, 0.800000011920929]
    """
    vector = vectors.get(spec.mode)
    if vector is None:
        raise ConfigurationError(f"this index holds {list(vectors)}, not {spec.mode!r}")
    if getattr(spec.queries, vector.part) is None:
        raise ConfigurationError(f"the query embeddings lack the {spec.mode!r} part")
    conditions = dict(spec.filter) if spec.filter else None
    requests: list[VectorQuery | None] = []
    rescale: list[Callable[[float], float] | None] = []
    for i in range(len(spec.queries)):
        value, empty = vector.query_value(spec.queries, i)
        ids = None if spec.restrict_to is None else tuple(spec.restrict_to[i])
        if empty or (ids is not None and not ids):
            requests.append(None)
            rescale.append(None)
            continue
        # candidates are rescored on the originals (an exact request), unless the index says to
        # score them with the quantised copy (rescore off: approximate scores, no original read)
        approximate = ids is not None and vector.search_quantization is not None and not vector.search_quantization[0]
        exact = spec.exact and not approximate
        requests.append(VectorQuery(vector.name, value, spec.limit, conditions, ids, exact,
                                    with_doc_ids=ids is None and spec.doc_ids, quantized=vector.search_quantization,
                                    hnsw_ef=None if ids is not None else spec.hnsw_ef))
        rescale.append(vector.rescale(spec.queries, i, value))
    return Prepared(requests, rescale)


def finish(spec: QuerySpec, results: list[list[ScoredId]], prepared: Prepared) -> list[list[ScoredId]]:
    """Ranked hits (looked-up ones, for restricted requests, in engine order) on m3search's scale."""
    if spec.restrict_to is None:  # rescoring hits are looked up by id, not ranked
        results = [rank(hits) for hits in results]
    return [hits if scale is None else [ScoredId(s.pid, scale(s.score), s.doc_id) for s in hits]
            for hits, scale in zip(results, prepared.rescale)]


def rank(hits: list[ScoredId]) -> list[ScoredId]:
    """Hits best first, scores within :data:`~m3search.scoring.TIE_TOLERANCE` tied and broken by id.

    Ties come back in engine order, and engines round differently (float32 vs float64
    accumulation): ranking them by id makes every backend rank the same (hits without document
    ids: by point id, the same UUID5 on every backend; a request's hits all have document ids or
    none, so the key compares like with like).

    >>> rank([ScoredId("p2", 0.5, "b"), ScoredId("p1", 0.5000000001, "a"), ScoredId("p3", 0.9, "c")])
    [ScoredId(pid='p3', score=0.9, doc_id='c'), ScoredId(pid='p1', score=0.5000000001, doc_id='a'), ScoredId(pid='p2', score=0.5, doc_id='b')]
    """
    return rank_with_ties(hits, lambda s: s.score, lambda s: s.doc_id or s.pid)
