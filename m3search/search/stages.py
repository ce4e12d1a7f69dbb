"""The first stages a fused search shares (no torch): what they found, per query, and how wide
their graph searches look."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..index.vectors import FDE_VECTOR


@dataclass(frozen=True)
class Stage:
    """The first stage the fused modes share: per-part hits, candidate unions, exact scores."""

    hits: dict[str, list[list[Any]]]
    unions: list[list[str]]  # per query: the dense and sparse candidates
    extended: list[list[str]]  # and the multi-vector first stage's
    doc_of: dict[str, str]
    score_parts: list[str]
    scores: dict[str, list[dict[str, float]]]


def first_stage_ef(depth: int) -> int:
    """The HNSW beam width of a first stage asked for ``depth`` candidates: twice the depth, at
    least 128 (``hnsw_ef=None`` in :class:`~m3search.search.Searcher`). A wider beam finds more of the true
    neighbours for more time: at 1M synthetic documents in an index with the engine's default graphs,
    `dense+sparse` with 100 candidates keeps 0.674 of its exact top 10 at 200, 0.754 at 400 and
    0.850 at 1,000 (docs/performance.md).

    >>> first_stage_ef(100), first_stage_ef(10)
    (200, 128)
    """
    return max(2 * depth, 128)


def unions_of(hits: Mapping[str, list[list[Any]]], n: int, doc_of: dict[str, str]) -> tuple[list[list[str]], list[list[str]]]:
    """Per query, the point ids the dense and sparse first stages found (in order, once each), and
    the same extended by the multi-vector first stage's; ``doc_of`` learns the ids hits carry."""
    unions, extended = [], []
    for i in range(n):
        seen: dict[str, None] = {}
        for part in ("dense", "sparse", FDE_VECTOR):
            if part == FDE_VECTOR:
                unions.append(list(seen))
            for s in hits[part][i] if part in hits else ():
                seen.setdefault(s.pid)
                if s.doc_id:
                    doc_of[s.pid] = s.doc_id
        extended.append(list(seen))
    return unions, extended
