"""The rows of an evaluation table: each row kind is a small class in :data:`ROW_KINDS`.

A row turns what one subset shares (:class:`RowInputs`: the encoded queries and documents, the
engine's runs of its modes, the exact multi-vector scores) into a :data:`~m3search.types.Run`.
Search modes are run by the engine over a temporary index (:class:`EngineRow`), except
``colbert``, scored exhaustively in numpy (:class:`ExactColbertRow`); the baselines
(``m3search eval --baseline``) are BM25 over words or over the model's tokens and the fusion of
the dense ranking with BM25. A new row kind is one class decorated with :func:`row_kind`.

>>> [name for name, kind in ROW_KINDS.items() if kind.baseline]
['bm25', 'bm25-tokens', 'rrf-dense-bm25']
>>> row = make_row("rrf-dense-bm25")
>>> row.parts_of_modes, row.engine_modes
(('dense',), ('dense',))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, TypeVar

import numpy as np

from ..scoring import colbert_scores
from ..search import reciprocal_rank_fusion
from ..search.rerank_stage import rerank_run
from ..types import Embeddings, Run
from .baselines.bm25 import BM25, model_tokenizer

if TYPE_CHECKING:
    from ..protocols import EncoderLike, RerankerLike


def exact_colbert_run(query_ids: Sequence[str], queries: Embeddings, doc_ids: Sequence[str], documents: Embeddings,
                      depth: int, scores: np.ndarray | None = None) -> Run:
    """The ``colbert`` mode by exhaustive float32 MaxSim (:func:`m3search.scoring.colbert_scores`,
    or ``scores`` already computed), which the index's exact scan also computes, only slower
    (and from float16 storage)."""
    if scores is None:
        scores = colbert_scores(queries.need_colbert(), documents.need_colbert())
    out: Run = {}
    for qid, row in zip(query_ids, scores):
        top = np.argsort(-row, kind="stable")[:depth]
        out[qid] = {doc_ids[j]: float(row[j]) for j in top}
    return out


def rrf_runs(runs: Sequence[Run], depth: int) -> Run:
    """Reciprocal rank fusion (k = 60) of several runs, query by query, cut to ``depth``.

    >>> rrf_runs([{"q": {"a": 2.0, "b": 1.0}}, {"q": {"b": 5.0}}], 10)["q"]["b"] > 0.03
    True
    """
    out: Run = {}
    for qid in dict.fromkeys(q for run in runs for q in run):
        rankings = []
        for run in runs:
            scores = run.get(qid, {})
            rankings.append(sorted(scores, key=lambda d, s=scores: -s[d]))  # type: ignore[misc]
        fused = reciprocal_rank_fusion(rankings)
        out[qid] = dict(sorted(fused.items(), key=lambda x: -x[1])[:depth])
    return out


@dataclass
class RowInputs:
    """What every row of one subset reads: its queries, its corpus, and what rows share.

    ``engine_runs`` holds the engine's run of each mode some row reads (one shared first
    stage); ``colbert_scores`` every query's exact multi-vector score against every document,
    where a row asked for them; ``bm25`` the BM25 indexes of the corpus by tokenizer (kept
    across the subsets that share the corpus).
    """

    encoder: EncoderLike
    query_ids: list[str]
    query_texts: list[str]
    queries: Embeddings
    doc_ids: list[str]
    doc_texts: list[str]
    documents: Embeddings
    depth: int
    engine_runs: dict[str, Run] = field(default_factory=dict)
    colbert_scores: np.ndarray | None = None
    bm25: dict[str, BM25] = field(default_factory=dict)

    def bm25_run(self, tokens: str) -> Run:
        """BM25 over ``words`` (:func:`~m3search.eval.baselines.bm25.tokenize`) or over the
        ``model``'s subword tokens, of every query, ``depth`` deep."""
        if tokens not in self.bm25:
            tokenizer = model_tokenizer(self.encoder) if tokens == "model" else None
            self.bm25[tokens] = BM25(self.doc_ids, self.doc_texts, tokenizer)
        return self.bm25[tokens].run(self.query_ids, self.query_texts, k=self.depth)


class Row:
    """One row of the table: its name, what it needs computed for it, and its run."""

    name: ClassVar[str]
    #: Whether ``--baseline`` adds it (otherwise it is a search mode).
    baseline: ClassVar[bool] = False
    #: Search modes whose parts the row needs encoded.
    parts_of_modes: tuple[str, ...] = ()
    #: Engine modes whose runs the row reads from :attr:`RowInputs.engine_runs`.
    engine_modes: tuple[str, ...] = ()
    #: Whether the row reads :attr:`RowInputs.colbert_scores` (every query against every document).
    exhaustive_colbert: ClassVar[bool] = False

    def run(self, inputs: RowInputs) -> Run:
        """``{query_id: {doc_id: score}}`` of this row on one subset."""
        raise NotImplementedError


#: Row kinds by name, in the order ``--baseline all`` adds the baselines.
ROW_KINDS: dict[str, type[Row]] = {}
RowKind = TypeVar("RowKind", bound=type[Row])


def row_kind(cls: RowKind) -> RowKind:
    """Register a row class under its ``name``."""
    ROW_KINDS[cls.name] = cls
    return cls


class EngineRow(Row):
    """A search mode run by the engine over the temporary index (``dense``, ``sparse``,
    ``dense+sparse``, ``all``, ``rrf``): every such mode shares one first stage."""

    def __init__(self, mode: str) -> None:
        self.name = mode  # type: ignore[misc]
        self.parts_of_modes = self.engine_modes = (mode,)

    def run(self, inputs: RowInputs) -> Run:
        return inputs.engine_runs[self.name]


@row_kind
class ExactColbertRow(Row):
    """``colbert``: exhaustive MaxSim in numpy (BLAS is many times faster than a full engine scan);
    the fused modes' multi-vector rescoring reads the same scores."""

    name = "colbert"
    parts_of_modes = ("colbert",)
    exhaustive_colbert = True

    def run(self, inputs: RowInputs) -> Run:
        return exact_colbert_run(inputs.query_ids, inputs.queries, inputs.doc_ids, inputs.documents, inputs.depth,
                                 inputs.colbert_scores)


@row_kind
class WordBM25Row(Row):
    """``bm25``: BM25 over words (character bigrams for scripts written without spaces)."""

    name = "bm25"
    baseline = True

    def run(self, inputs: RowInputs) -> Run:
        return inputs.bm25_run("words")


@row_kind
class TokenBM25Row(Row):
    """``bm25-tokens``: BM25 over the model's own subword tokens (the paper's BM25 row)."""

    name = "bm25-tokens"
    baseline = True

    def run(self, inputs: RowInputs) -> Run:
        return inputs.bm25_run("model")


@row_kind
class DenseBM25FusionRow(Row):
    """``rrf-dense-bm25``: reciprocal rank fusion of the dense ranking with the word BM25 ranking."""

    name = "rrf-dense-bm25"
    baseline = True
    parts_of_modes = engine_modes = ("dense",)

    def run(self, inputs: RowInputs) -> Run:
        return rrf_runs([inputs.engine_runs["dense"], inputs.bm25_run("words")], inputs.depth)


class RerankRow(Row):
    """``<first>+rerank@<depth>``: the first ``depth`` documents of another row's run rescored by
    a cross-encoder (:func:`~m3search.search.rerank_stage.rerank_run`)."""

    def __init__(self, first: Row, depth: int, reranker: RerankerLike) -> None:
        self.name = f"{first.name}+rerank@{depth}"  # type: ignore[misc]
        self.first, self.depth, self.reranker = first, depth, reranker
        self.parts_of_modes, self.engine_modes = first.parts_of_modes, first.engine_modes
        self.exhaustive_colbert = first.exhaustive_colbert  # type: ignore[misc]

    def run(self, inputs: RowInputs) -> Run:
        return rerank_run(self.reranker, dict(zip(inputs.query_ids, inputs.query_texts)), self.first.run(inputs),
                          dict(zip(inputs.doc_ids, inputs.doc_texts)), depth=self.depth)


class MemoReranker:
    """A reranker that scores each distinct (query, passage) pair once: the rows of several
    depths share the pairs of the shallower ones."""

    def __init__(self, reranker: RerankerLike) -> None:
        self.reranker, self.name = reranker, reranker.name
        self._scores: dict[tuple[str, str], float] = {}

    def score(self, pairs: Sequence[Sequence[str]], *, max_length: int = 512, normalize: bool = False) -> list[float]:
        missing = list(dict.fromkeys((q, p) for q, p in pairs if (q, p) not in self._scores))
        if missing:
            self._scores.update(zip(missing, map(float, self.reranker.score(missing, max_length=max_length))))
        return [self._scores[(q, p)] for q, p in pairs]


def make_row(name: str) -> Row:
    """The row called ``name``: a registered kind, else the engine's search mode of that name."""
    kind: Callable[[], Row] | None = ROW_KINDS.get(name)
    return kind() if kind is not None else EngineRow(name)


#: Baseline rows ``m3search eval --baseline`` can add.
BASELINES = tuple(name for name, kind in ROW_KINDS.items() if kind.baseline)
