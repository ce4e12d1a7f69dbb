"""The searcher: encode queries, take candidates per mode from the index, fuse, explain.

The modes are described in :mod:`.modes`. Final scores of fused modes are divided by the
weight sum, as the reference's ``compute_score`` does, so that they stay on the scale of the
per-mode scores; rankings are the same either way. Default weights are the paper's (1, 0.3, 1),
or for documents encoded in windows :data:`~m3search.scoring.WINDOWS_WEIGHTS`
(:func:`~m3search.scoring.default_weights` of the index's encoder).
This module imports no torch: an index searched with precomputed query embeddings
(:meth:`Searcher.search_embeddings`) never loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import ConfigurationError, InputError
from ..index import Document, Index, QuerySpec
from ..index.filters import check_filter
from ..index.vectors import FDE_VECTOR
from ..protocols import EncoderLike, RerankerLike
from ..scoring import default_weights, rank_with_ties
from ..types import Embeddings, Hit, Run
from .explain import as_compared, explain
from .fusion import RRF_K, check_weights, reciprocal_rank_fusion, weighted_sum
from .modes import MODE_PARTS, SINGLE_MODES, check_mode, default_mode
from .rerank_stage import check_depth, rerank_hits
from .stages import Stage, first_stage_ef, unions_of

Ranked = list[list[tuple[str, float, dict[str, float]]]]
#: ``(queries, i, doc_ids) -> scores``: exact multi-vector scores of query ``i`` against documents.
ColbertScorer = Callable[[Embeddings, int, Sequence[str]], Sequence[float]]


class Searcher:
    """Search an :class:`~m3search.index.Index` with an encoder.

    ``encoder`` may be ``None`` when queries arrive as embeddings, or a zero-argument callable
    that returns the encoder, to load it (and torch) only when a text must be encoded. The
    encoder is checked against the identity the index records (:mod:`m3search.identity`): a
    different model raises :class:`~m3search.errors.IndexMismatchError` rather than giving
    wrong scores.

    >>> import tempfile; from m3search.encode import Encoder
    >>> enc = Encoder.load("tests/fixtures/tiny-m3", device="cpu")
    >>> texts = ["The Nile is a river.", "Everest is a mountain.", "Canberra is a capital."]
    >>> index = Index.create(tempfile.mkdtemp() + "/idx", enc.identity)
    >>> index.add(["nile", "everest", "canberra"], enc.encode(texts, parts="all"), texts=texts)
    3
    >>> hits = Searcher(enc, index).search(["Which river?"], k=3)[0]
    >>> len(hits), sorted(hits[0].scores)
    (3, ['colbert', 'dense', 'sparse'])
    >>> index.close()
    """

    def __init__(
        self,
        encoder: EncoderLike | Callable[[], EncoderLike] | None,
        index: Index,
        *,
        mode: str | None = None,
        weights: Mapping[str, float] | None = None,
        candidates: int = 100,
        rrf_k: int = RRF_K,
        colbert_scorer: ColbertScorer | None = None,
        multi_vector_candidates: bool = True,
        rerank: RerankerLike | None = None,
        rerank_depth: int = 100,
        colbert_stages: Sequence[str] | None = None,
        hnsw_ef: int | None = None,
    ) -> None:
        self._encoder = encoder
        self.index = index
        self.weights = check_weights(default_weights(index.manifest.encoder) if weights is None else weights)
        self.mode = mode or default_mode(index.parts)
        self._check_mode(self.mode)
        self._encoder_checked = False
        if candidates < 1:
            raise ConfigurationError(f"candidates must be >= 1, got {candidates}")
        self.candidates = candidates
        self.rrf_k = rrf_k
        #: Exact multi-vector scores of candidates computed outside the engine, when the
        #: documents' rows are at hand (evaluation holds them in memory): ``(queries, i,
        #: doc_ids) -> scores``. The engine's MaxSim scans rows one pair at a time; a matrix
        #: product is many times faster for documents of thousands of rows.
        self.colbert_scorer = colbert_scorer
        #: Whether ``all`` and ``rrf`` add the multi-vector first stage's candidates (an index built
        #: with an FDE first stage) to the dense and sparse ones; ``colbert`` always searches through it.
        self.multi_vector_candidates = multi_vector_candidates
        #: A cross-encoder that rescores each text query's first ``rerank_depth`` hits
        #: (:mod:`.rerank_stage`); hits keep the first stage's scores beside ``rerank``.
        self.rerank, self.rerank_depth = rerank, rerank_depth
        #: The first stages that give ``colbert`` its candidates, rescored exactly: ``None`` (the
        #: default) follows the index's ``colbert_search``: every first stage it holds (the dense
        #: and sparse ones find most of what an FDE misses) on an index with an FDE first stage or
        #: built to search by candidates (the ``compact`` preset), a scan of every document's rows
        #: otherwise; or any of ``colbert_fde``, ``dense``, ``sparse`` the index holds.
        self.colbert_stages = None if colbert_stages is None else tuple(colbert_stages)
        if self.colbert_stages is not None:
            available = [s for s in (FDE_VECTOR, "dense", "sparse") if s in self.index.vectors]
            unknown = [s for s in self.colbert_stages if s not in available]
            if unknown or not self.colbert_stages:
                raise ConfigurationError(f"colbert_stages must be first stages of this index ({available}); "
                                         f"got {list(self.colbert_stages)}")
        #: The HNSW beam width of the first stages' searches; ``None``: :func:`first_stage_ef` of
        #: the depth (the engine's own default, its ``ef_construct`` of 100, is no wider than the
        #: 100 candidates a fused mode asks for, and misses more of the true neighbours).
        if hnsw_ef is not None and hnsw_ef < 1:
            raise ConfigurationError(f"hnsw_ef must be >= 1, got {hnsw_ef}")
        self.hnsw_ef = hnsw_ef
        if rerank is not None:
            check_depth(rerank_depth, 1)

    @staticmethod
    def default_mode(index: Index) -> str:
        """``all`` when the index holds all three parts, else ``dense+sparse``, else a single mode."""
        return default_mode(index.parts)

    @property
    def encoder(self) -> EncoderLike:
        """The encoder, loaded on first use and checked against the index."""
        if self._encoder is None:
            raise ConfigurationError("this searcher has no encoder: pass query embeddings to search_embeddings()")
        encoder = self._encoder if isinstance(self._encoder, EncoderLike) else self._encoder()
        self._encoder = encoder
        if not self._encoder_checked:
            self.index.manifest.check_encoder(dict(encoder.identity))
            self._encoder_checked = True
        return encoder

    def query_parts(self, mode: str | None = None, explain: bool = False) -> tuple[str, ...]:
        """The parts a query must be encoded with for ``mode`` (and its explanation)."""
        mode = mode or self.mode
        self._check_mode(mode)
        optional: tuple[str, ...] = ("sparse", "colbert") if explain else ("colbert",) if mode == "rrf" else ()
        if mode == "colbert":
            optional += tuple(s for s in self._colbert_stages() if s != FDE_VECTOR)
        return tuple(p for p in self.index.parts if p in MODE_PARTS[mode] or p in optional)

    # ------------------------------------------------------------------ public API
    def search(
        self,
        queries: Sequence[str],
        k: int = 10,
        *,
        mode: str | None = None,
        filter: Mapping[str, Any] | None = None,
        explain: bool = False,
        exact: bool = False,
    ) -> list[list[Hit]]:
        """Hits for each query text, best first, with per-mode scores (and explanations).

        Args:
            queries: the query texts (a list).
            k: hits per query.
            mode: one of :data:`~m3search.search.modes.MODES` (default: the searcher's).
            filter: a metadata filter (:mod:`m3search.index.filters`: values, any-of lists,
                ranges); every field must match.
            explain: add an :class:`~m3search.types.Explanation` to each hit.
            exact: exhaustive first-stage search instead of the HNSW graph.

        With a reranker (``Searcher(..., rerank=CrossEncoder.load(...), rerank_depth=N)``) the
        first ``N`` hits of each query are rescored by it and ordered by its score.
        """
        if isinstance(queries, str):
            raise TypeError("queries must be a list of strings, not a single string: wrap it in a list")
        empty = [i for i, q in enumerate(queries) if isinstance(q, str) and not q.strip()]
        if empty:  # its embedding is the prefix's alone: confident hits for nothing
            raise InputError(f"query {empty[0]} is empty: there is nothing to search for")
        mode = mode or self.mode
        self._check_mode(mode)
        if k < 1:  # checked before the model loads
            raise ConfigurationError(f"k must be >= 1, got {k}")
        filter = check_filter(filter)
        if self.rerank is not None:
            check_depth(self.rerank_depth, k)
        embeddings = self.encoder.encode(list(queries), role="query", parts=self.query_parts(mode, explain))
        first = max(k, self.rerank_depth) if self.rerank is not None else k
        hits = self.search_embeddings(embeddings, first, mode=mode, filter=filter, exact=exact,
                                      explain_texts=list(queries) if explain else None)
        if self.rerank is None:
            return hits
        return rerank_hits(self.rerank, list(queries), hits, depth=self.rerank_depth, k=k, mode=mode)

    def search_embeddings(
        self,
        queries: Embeddings,
        k: int = 10,
        *,
        mode: str | None = None,
        filter: Mapping[str, Any] | None = None,
        exact: bool = False,
        fetch_documents: bool = True,
        explain_texts: Sequence[str] | None = None,
    ) -> list[list[Hit]]:
        """Hits for encoded queries. ``explain_texts`` (the query texts) adds explanations."""
        mode = mode or self.mode
        self._check_mode(mode)
        if k < 1:
            raise ConfigurationError(f"k must be >= 1, got {k}")
        missing = [p for p in MODE_PARTS[mode] if getattr(queries, p) is None]
        if missing:
            raise ConfigurationError(f"mode {mode!r} needs the query's {missing} part(s)")
        stages = self._colbert_query_stages(queries) if mode == "colbert" and not exact else ()
        if stages:  # colbert: candidates by the first stages, rescored exactly
            stage = self._first_stage(queries, max(self.candidates, k), filter, exact, stages=stages,
                                      score_parts=("colbert",), doc_ids=self.colbert_scorer is not None)
            ranked = self._combine(mode, stage, k)
        elif mode in SINGLE_MODES:
            spec = QuerySpec(mode, queries, k, filter, exact, hnsw_ef=self.hnsw_ef)
            ranked = [[(s.doc_id, s.score, {mode: s.score}) for s in hits] for hits in self.index.query_many([spec])[0]]
        else:
            ranked = self._fused(mode, queries, k, filter, exact)
        if not fetch_documents:
            return [[Hit(doc_id, score, scores) for doc_id, score, scores in hits] for hits in ranked]
        return self._documents(ranked, queries, explain_texts)

    def run(self, queries: Mapping[str, str], k: int = 100, **options: Any) -> Run:
        """``{query_id: {doc_id: score}}`` for evaluation, from query texts."""
        qids = list(queries)
        hits = self.search([queries[q] for q in qids], k, **options) if qids else []
        return to_run(qids, hits)

    def run_embeddings(self, query_ids: Sequence[str], queries: Embeddings, k: int = 100, **options: Any) -> Run:
        """``{query_id: {doc_id: score}}`` for evaluation, from encoded queries (no documents read)."""
        if len(query_ids) != len(queries):
            raise ConfigurationError(f"{len(query_ids)} query ids for {len(queries)} encoded queries")
        if not query_ids:
            return {}
        return to_run(query_ids, self.search_embeddings(queries, k, fetch_documents=False, **options))

    def run_modes(self, query_ids: Sequence[str], queries: Embeddings, modes: Sequence[str], k: int = 100,
                  **options: Any) -> dict[str, Run]:
        """One run per mode for the same queries, sharing the work the modes have in common.

        The dense and sparse first stages are searched once (at ``max(candidates, k)``) and the
        candidates rescored once per part; every mode's ranking is then derived from them. The
        result equals ``{m: run_embeddings(query_ids, queries, k, mode=m)}`` (a test pins it),
        in 2-5 engine calls instead of up to 5 per fused mode: what ``m3search eval`` uses.
        """
        if len(query_ids) != len(queries):
            raise ConfigurationError(f"{len(query_ids)} query ids for {len(queries)} encoded queries")
        for mode in modes:
            self._check_mode(mode)
        if not query_ids:
            return {mode: {} for mode in modes}
        fused = [m for m in modes if m not in SINGLE_MODES]
        single = [m for m in modes if m in SINGLE_MODES and not (fused and m in ("dense", "sparse"))]
        out = {m: to_run(query_ids, self.search_embeddings(queries, k, mode=m, fetch_documents=False, **options))
               for m in single}
        if fused:
            colbert = any(m in ("all", "rrf") for m in fused)
            stage = self._first_stage(queries, max(self.candidates, k), options.get("filter"), options.get("exact", False),
                                      stages=self._stages(colbert), score_parts=self._score_parts(queries, colbert))
            for mode in [m for m in modes if m in ("dense", "sparse")]:
                hits = stage.hits[mode]
                out[mode] = {qid: {s.doc_id: s.score for s in row[:k]} for qid, row in zip(query_ids, hits)}
            for mode in fused:
                ranked = self._combine(mode, stage, k)
                out[mode] = {qid: {doc_id: score for doc_id, score, _ in row} for qid, row in zip(query_ids, ranked)}
        return {mode: out[mode] for mode in modes}

    # ------------------------------------------------------------------ fusion
    def _fused(self, mode: str, queries: Embeddings, k: int, filter: Mapping[str, Any] | None,
               exact: bool) -> Ranked:
        # RRF ranks by position, ties broken by document id, so it needs every candidate's id;
        # a weighted sum reads the ids of the final k only (payload reads are a third of a
        # first stage's cost)
        doc_ids = mode == "rrf" or self.colbert_scorer is not None
        colbert = mode in ("all", "rrf")
        stage = self._first_stage(queries, max(self.candidates, k), filter, exact, stages=self._stages(colbert),
                                  score_parts=self._score_parts(queries, colbert), doc_ids=doc_ids)
        return self._combine(mode, stage, k)

    @property
    def _has_fde(self) -> bool:
        return FDE_VECTOR in self.index.vectors

    def _colbert_stages(self) -> tuple[str, ...]:
        """The first stages of ``colbert`` (none: a scan of every document's rows): this
        searcher's, else every first stage the index holds when its manifest says ``colbert``
        searches it by candidates (:attr:`~m3search.index.IndexOptions.colbert_search`)."""
        if self.colbert_stages is not None:
            return self.colbert_stages
        if self.index.manifest.colbert_search == "scan":
            return ()
        return tuple(s for s in (FDE_VECTOR, "dense", "sparse") if s in self.index.vectors)

    def _colbert_query_stages(self, queries: Embeddings) -> tuple[str, ...]:
        """:meth:`_colbert_stages`, refused when the queries lack a part one of them searches by
        (a silent fall-back to fewer stages, or to a scan, would not be the search asked for)."""
        stages = self._colbert_stages()
        lacking = [s for s in stages if s != FDE_VECTOR and getattr(queries, s) is None]
        if lacking:
            raise ConfigurationError(
                f"colbert searches this index by candidates of {list(stages)}, and the query embeddings lack "
                f"their {lacking} part(s): encode the queries with Searcher.query_parts('colbert'), choose "
                "colbert_stages the queries have, or pass exact=True to scan every document")
        return stages

    def _stages(self, colbert: bool) -> tuple[str, ...]:
        """The first stages of a fused mode: dense and sparse, and the multi-vector one for
        ``all`` and ``rrf`` when the index has it and :attr:`multi_vector_candidates`."""
        fde = colbert and self.multi_vector_candidates and self._has_fde
        return ("dense", "sparse", FDE_VECTOR) if fde else ("dense", "sparse")

    def _score_parts(self, queries: Embeddings, colbert: bool) -> tuple[str, ...]:
        with_colbert = colbert and "colbert" in self.index.parts and queries.colbert is not None
        return ("dense", "sparse", "colbert") if with_colbert else ("dense", "sparse")

    def _first_stage(self, queries: Embeddings, depth: int, filter: Mapping[str, Any] | None, exact: bool, *,
                     stages: Sequence[str], score_parts: Sequence[str], doc_ids: bool = True) -> Stage:
        """Candidates of each first stage (``dense``, ``sparse``, the multi-vector encoding), their
        union per query, and every candidate's exact score in each of ``score_parts``
        (``doc_ids=False``: candidates known by point id only; :meth:`_combine` names the ones it keeps)."""
        # one engine round trip for the first stages, one for all the rescoring
        ef = self.hnsw_ef or first_stage_ef(depth)
        first = self.index.query_many([QuerySpec(part, queries, depth, filter, exact, doc_ids=doc_ids, hnsw_ef=ef)
                                       for part in stages])
        hits = dict(zip(stages, first))
        doc_of: dict[str, str] = {}
        unions, extended = unions_of(hits, len(queries), doc_of)
        unions = unions if any(p in stages for p in ("dense", "sparse")) else extended
        # a candidate's score in a part whose first stage found it is known (the engine's scores
        # are exact similarities): only the others are rescored
        scores: dict[str, list[dict[str, float]]] = {
            part: [{s.pid: s.score for s in row} for row in hits.get(part, [[] for _ in unions])] for part in score_parts
        }
        if "colbert" in score_parts and self.colbert_scorer is not None:
            scorer = self.colbert_scorer
            scores["colbert"] = [dict(zip(union, map(float, scorer(queries, i, [doc_of[p] for p in union]))))
                                 for i, union in enumerate(extended)]
        rescore = [part for part in score_parts if not (part == "colbert" and self.colbert_scorer is not None)]
        missing = {part: [[p for p in union if p not in scores[part][i]] for i, union in enumerate(extended)]
                   for part in rescore}
        specs = [QuerySpec(part, queries, max(1, max(map(len, missing[part]), default=1)), exact=True,
                           restrict_to=missing[part]) for part in rescore]
        for part, rows in zip(rescore, self.index.query_many(specs)):
            for known, row in zip(scores[part], rows):
                known.update({s.pid: s.score for s in row})
        return Stage(hits, unions, extended, doc_of, list(score_parts), scores)

    def _combine(self, mode: str, stage: Stage, k: int) -> Ranked:
        """One fused mode's ranking from a shared first stage.

        Ties are broken by document id, as brute force does. Candidates known by point id only
        are named after scoring: the k best and any tied with the k-th, in one read.
        """
        parts = ["colbert"] if mode == "colbert" else [p for p in stage.score_parts if p != "colbert" or mode in ("all", "rrf")]
        candidates = stage.extended if mode in ("all", "rrf", "colbert") else stage.unions
        scored = []
        for i, union in enumerate(candidates):
            per_doc = {pid: {part: stage.scores[part][i].get(pid, 0.0) for part in parts} for pid in union}
            if mode == "rrf":
                rankings = [[s.pid for s in stage.hits["dense"][i]], [s.pid for s in stage.hits["sparse"][i]]]
                if "colbert" in parts:
                    colbert = {pid: scores["colbert"] for pid, scores in per_doc.items()}
                    rankings.append(rank_with_ties(union, colbert.__getitem__, stage.doc_of.__getitem__))
                final = reciprocal_rank_fusion(rankings, self.rrf_k)
            else:
                final = weighted_sum(per_doc, MODE_PARTS[mode], self.weights)
            order = sorted(union, key=lambda p: -final[p])
            cut = final[order[k - 1]] if len(order) > k else None
            scored.append(([p for p in order if cut is None or final[p] >= cut], final, per_doc))
        unnamed = [p for kept, _, _ in scored for p in kept if p not in stage.doc_of]
        if unnamed:
            names = self.index.doc_ids(unnamed)
            stage.doc_of.update({p: names[str(p)] for p in unnamed if str(p) in names})  # deleted since: dropped
        out: Ranked = []
        for kept, final, per_doc in scored:
            best = rank_with_ties([p for p in kept if p in stage.doc_of], final.__getitem__, stage.doc_of.__getitem__)[:k]
            out.append([(stage.doc_of[p], float(final[p]), per_doc[p]) for p in best])
        return out

    # ------------------------------------------------------------------ documents and explanations
    def _documents(self, ranked: Ranked, queries: Embeddings, explain_texts: Sequence[str] | None) -> list[list[Hit]]:
        wanted = list(dict.fromkeys(doc_id for hits in ranked for doc_id, _, _ in hits))
        documents: dict[str, Document | None] = dict(zip(wanted, self.index.get(wanted, with_vectors=explain_texts is not None)))
        compared = as_compared(queries, self.index.manifest) if explain_texts is not None else queries
        results = []
        for i, hits in enumerate(ranked):
            row = []
            for doc_id, score, scores in hits:
                doc = documents.get(doc_id)
                explanation = None
                if explain_texts is not None and doc is not None:
                    explanation = explain(self.encoder, compared, i, explain_texts[i], doc)
                row.append(Hit(doc_id, score, scores, doc.text if doc else None, doc.metadata if doc else {}, explanation))
            results.append(row)
        return results

    def _check_mode(self, mode: str) -> None:
        check_mode(mode, self.index.parts)


def to_run(query_ids: Sequence[str], hits: Sequence[Sequence[Hit]]) -> Run:
    """``{query_id: {doc_id: score}}`` from each query's hits."""
    return {qid: {h.id: h.score for h in result} for qid, result in zip(query_ids, hits)}
