"""Run every mode of an encoder (and BM25) over a benchmark suite and tabulate the metrics.

For each subset the corpus is encoded once (cached under ``<cache>/embeddings`` by encoder
identity and corpus hash, so ``xquad-cross`` reuses ``xquad-mono``'s encodings), indexed in a
temporary index, and searched in every mode; each row of the table (a search mode or a
baseline) is a class of :mod:`m3search.eval.rows`; runs are evaluated with :func:`m3search.evaluate`.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from ..encode.backends.onnx_files import EXPORT_VERSION
from ..errors import ConfigurationError
from ..identity import identity_hash
from ..index import Index, IndexOptions, codecs
from ..index.pooling import compress, compress_options
from ..io import embeddings as embeddings_io
from ..io.jsonl import Record
from ..scoring import colbert_score, colbert_scores
from ..search import Searcher, check_mode, parts_for
from ..search.rerank_stage import check_depth
from ..types import Embeddings, Ragged
from .baselines.bm25 import BM25
from .beir import BeirData, read_beir
from .metrics import DEFAULT_METRICS, EvalResult, evaluate
from .public_suites import HUB_SUITES, answer_recall, build_hub_suite
from .report import SuiteResult
from .rows import BASELINES, EngineRow, MemoReranker, RerankRow, Row, RowInputs, exact_colbert_run, make_row, rrf_runs
from .suites import POSITION_BUCKETS, Subset, build_suite

if TYPE_CHECKING:
    from ..protocols import EncoderLike, RerankerLike, Role

__all__ = ["BASELINES", "Rerank", "as_stored", "cached_encode", "colbert_scorer", "exact_colbert_run", "file_hash", "rrf_runs", "run_beir",
           "run_subsets", "run_suite"]

#: Metrics per suite (the first is the one tabulated); LAReQA is reported by mAP@20 as its paper does.
SUITE_METRICS = {
    "lareqa": ("mAP@20", "nDCG@10", "Recall@100"),
}


def file_hash(path: Path) -> str:
    """Short content hash of a file (links resolved): the cache key of a corpus or query set."""
    return hashlib.sha256(path.resolve().read_bytes()).hexdigest()[:16]


def cached_encode(encoder: EncoderLike, texts: list[str], role: Role, parts: tuple[str, ...], cache: Path, key: str,
                  ids: list[str]) -> Embeddings:
    """Encode ``texts``, or read them from ``cache/embeddings`` where this encoder (same identity
    and backend) already encoded the same ``key`` with at least these parts."""
    folder = cache / "embeddings"
    # a backend other than torch has its own entries: even where its outputs count as the same
    # model (onnx, openvino-bf16), an evaluation of that backend must measure that backend
    backend = encoder.identity.get("backend")
    # an exported graph can change without changing the identity (export versions whose outputs
    # differ by less than the backend's own noise): its version keeps such embeddings apart too
    tag = f".{backend}.v{EXPORT_VERSION}" if backend and backend != "torch" else ""
    prefix = f"{identity_hash(encoder.identity)}{tag}-{role}"
    for cached in sorted(folder.glob(f"{prefix}-*-{key}.npz")):  # any cached superset of the parts will do
        if set(parts) <= set(cached.name[len(prefix) + 1 : -len(key) - 5].split("+")):
            embeddings = embeddings_io.load(cached)[1]
            return embeddings.only(parts)
    path = folder / f"{prefix}-{'+'.join(parts)}-{key}.npz"
    embeddings = encoder.encode(texts, role=role, parts=parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    embeddings_io.save(path, ids, embeddings)
    return embeddings


def colbert_scorer(doc_ids: Sequence[str], documents: Embeddings,
                   known: np.ndarray | None = None) -> Callable[[Embeddings, int, Sequence[str]], list[float]]:
    """Exact float32 MaxSim of one query against given documents held in memory: the rescoring
    of ``all`` and ``rrf`` candidates (a matrix product per document, where the engine scans
    pairs of rows; the same scores up to the index's float16 storage). ``known``: every
    query's scores against every document, when the ``colbert`` row computed them already."""
    position = {doc_id: j for j, doc_id in enumerate(doc_ids)}
    rows = documents.need_colbert()

    def score(queries: Embeddings, i: int, candidates: Sequence[str]) -> list[float]:
        if known is not None:
            return [float(known[i, position[d]]) for d in candidates]
        query = queries.need_colbert()[i]
        return [colbert_score(query, rows[position[d]]) for d in candidates]

    return score


@dataclass(frozen=True)
class Rerank:
    """Cross-encoder rows of an evaluation: ``reranker`` rescoring the first ``depths`` documents
    of the row ``of`` (default: ``all`` where evaluated, else the first mode)."""

    reranker: RerankerLike
    depths: tuple[int, ...] = (10, 50, 100)
    of: str | None = None

    def rows(self, rows: Sequence[Row]) -> list[Row]:
        by_name = {row.name: row for row in rows}
        first = self.of or ("all" if "all" in by_name else rows[0].name)
        if first not in by_name:
            raise ConfigurationError(f"cannot rerank {first!r}: it is not a row of this evaluation ({list(by_name)})")
        for depth in self.depths:
            check_depth(depth, 1)
        shared = MemoReranker(self.reranker)  # the depths share the pairs of the shallower ones
        return [RerankRow(by_name[first], depth, shared) for depth in self.depths]


def run_suite(
    suite: str,
    encoder: EncoderLike,
    *,
    data_dir: str | Path,
    cache: str | Path,
    modes: Sequence[str] = ("dense",),
    baseline: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    subsets: Sequence[str] | None = None,
    depth: int = 100,
    split: str | None = None,
    share_candidates: bool = True,
    compression: Mapping[str, Any] | None = None,
    index_options: IndexOptions | None = None,
    rerank: Rerank | None = None,
) -> SuiteResult:
    """Evaluate ``modes`` of ``encoder`` (and the ``baseline`` rows, see :data:`BASELINES`) on ``suite``:
    a bundled one, or one of the paper's (:data:`~m3search.eval.public_suites.HUB_SUITES`, downloaded on first use).
    ``compression`` (``colbert_pool_factor``, ``sparse_top_k``, ``sparse_min_weight``) reduces the
    documents as an index built with it would store them; ``index_options`` builds the temporary
    indexes with these settings, ``rerank`` adds cross-encoder rows (see :func:`run_subsets`)."""
    _check_rows(encoder, modes, baseline)
    if suite in HUB_SUITES:
        spec = HUB_SUITES[suite]
        built = build_hub_suite(suite, Path(cache) / "suites", languages=subsets, split=split)
        return run_subsets(suite, [Subset(lang, path) for lang, path in built], encoder, cache=cache, modes=modes,
                           baseline=baseline, metrics=tuple(metrics or spec.metrics), depth=depth,
                           split=split or spec.split, compression=compression, index_options=index_options,
                           rerank=rerank)
    available = build_suite(suite, data_dir, Path(cache) / "suites")
    unknown = [name for name in subsets or () if name not in {s.name for s in available}]
    if unknown:
        raise ConfigurationError(f"{suite} has no subset {', '.join(map(repr, unknown))}; "
                                 f"it has {', '.join(s.name for s in available)}")
    chosen = [s for s in available if subsets is None or s.name in subsets]
    return run_subsets(suite, chosen, encoder, cache=cache, modes=modes, baseline=baseline,
                       metrics=tuple(metrics or SUITE_METRICS.get(suite, DEFAULT_METRICS)), depth=depth,
                       group_by="position", share_candidates=share_candidates, compression=compression,
                       index_options=index_options, rerank=rerank)


def run_beir(
    directories: Sequence[str | Path],
    encoder: EncoderLike,
    *,
    cache: str | Path,
    split: str = "test",
    modes: Sequence[str] = ("dense",),
    baseline: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    depth: int = 100,
    name: str = "beir",
    compression: Mapping[str, Any] | None = None,
    index_options: IndexOptions | None = None,
    rerank: Rerank | None = None,
) -> SuiteResult:
    """Evaluate on the user's own BEIR directories, each one subset (named by its folder).

    Where queries carry a ``lang`` field, the results are also grouped by language (the rows of
    ``result.groups``), so one multilingual directory gives a per-language table.
    """
    _check_rows(encoder, modes, baseline)
    subsets = [Subset(Path(d).name, Path(d)) for d in directories]
    names = [s.name for s in subsets]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"two BEIR directories share a name ({names}): subsets are named by folder")
    return run_subsets(name, subsets, encoder, cache=cache, modes=modes, baseline=baseline,
                       metrics=tuple(metrics or DEFAULT_METRICS), depth=depth, split=split, group_by="lang",
                       compression=compression, index_options=index_options, rerank=rerank)


def _check_rows(encoder: EncoderLike, modes: Sequence[str], baseline: str | Sequence[str] | None) -> None:
    for mode in modes:
        check_mode(mode, encoder.parts, holder=f"model {encoder.identity['name']!r} (add heads with --heads baseline)")
    for name in _baselines(baseline):
        if name not in BASELINES:
            raise ConfigurationError(f"unknown baseline {name!r}; choose from {list(BASELINES)}")


def _baselines(baseline: str | Sequence[str] | None) -> list[str]:
    return [] if baseline is None else [baseline] if isinstance(baseline, str) else list(baseline)



@dataclass
class _Corpus:
    """A corpus searched by one or more subsets: its documents, their embeddings as the index
    stores them, its temporary index, and its BM25 indexes by tokenizer."""

    doc_ids: list[str]
    texts: list[str]
    embeddings: Embeddings
    index: Index
    bm25: dict[str, BM25] = field(default_factory=dict)


def _rows(names: Sequence[str], index_options: IndexOptions | None, rerank: Rerank | None) -> list[Row]:
    """The table's rows: ``colbert`` as the index searches it (through its first stages where it
    has an FDE or searches by candidates, :attr:`IndexOptions.colbert_search`), then the rerank rows."""
    by_candidates = index_options is not None and index_options.colbert_by_candidates
    rows = [EngineRow(name) if name == "colbert" and by_candidates else make_row(name) for name in names]
    return rows + (rerank.rows(rows) if rerank is not None else [])


def _open_corpus(data: BeirData, encoder: EncoderLike, parts: tuple[str, ...], cache: Path, key: str, folder: Path,
                 compression: Mapping[str, Any] | None, options: IndexOptions | None) -> _Corpus:
    doc_ids, doc_texts = [d.id for d in data.corpus], [d.text for d in data.corpus]
    embeddings = cached_encode(encoder, doc_texts, "document", parts, cache, key, doc_ids)
    if compression:  # reduced once, here, so that the engine and the numpy rows score the same
        embeddings = compress(embeddings, **compress_options(compression))
    if options is not None:  # the numpy rows hold what the index stores (float16 or uint8 codes)
        embeddings = as_stored(embeddings, options.colbert_storage or "float16", options.dense_storage or "float32")
    index = Index.create(folder / key, encoder.identity, parts=parts,
                         options=replace(options, compression=None) if options is not None else None)
    index.add(doc_ids, embeddings)
    return _Corpus(doc_ids, doc_texts, embeddings, index)


def as_stored(embeddings: Embeddings, storage: str, dense_storage: str = "float32") -> Embeddings:
    """``embeddings`` as an index storing multi-vector rows as ``storage`` and dense vectors as
    ``dense_storage`` reads them back: rounded to float16, or through the uint8 codes
    (:mod:`~m3search.index.codecs`).

    >>> e = Embeddings(colbert=Ragged.from_arrays([np.array([[0.6, 0.8]], dtype=np.float32)]))
    >>> float(as_stored(e, "uint8").colbert.data[0, 0]) != 0.6
    True
    """
    if embeddings.dense is not None and dense_storage != "float32":
        embeddings = replace(embeddings, dense=_stored_rows(embeddings.dense, dense_storage))
    if embeddings.colbert is None or storage == "float32":
        return embeddings
    rows = embeddings.colbert
    return replace(embeddings, colbert=Ragged(_stored_rows(rows.data, storage), rows.offsets))


def _stored_rows(rows: np.ndarray, storage: str) -> np.ndarray:
    """``(n, D)`` float32 rows as a new index stores and reads back ``storage`` (float16 or uint8 codes)."""
    if storage == "uint8":
        return codecs.rounded(rows, codec=codecs.CURRENT_CODEC)  # what a new index stores
    return rows.astype(np.float16).astype(np.float32)


def _judged(data: BeirData) -> tuple[list[Record], dict[str, list[str]]]:
    """The queries that are judged, by qrels or by answer strings (MKQA), and those answer strings."""
    answers = {q.id: list(q.metadata["answers"]) for q in data.queries if "answers" in q.metadata}
    return [q for q in data.queries if q.id in data.qrels or q.id in answers], answers


def _row_inputs(rows: Sequence[Row], queries: Sequence[Record], corpus: _Corpus, encoder: EncoderLike,
                parts: tuple[str, ...], cache: Path, query_key: str, depth: int, share_candidates: bool) -> RowInputs:
    """Encode the queries and compute what the rows share: exact multi-vector scores where a row
    reads them, and the engine's runs of every mode a row reads (one shared first stage)."""
    query_ids, query_texts = [q.id for q in queries], [q.text for q in queries]
    query_emb = cached_encode(encoder, query_texts, "query", parts, cache, query_key, query_ids)
    every = None
    if any(row.exhaustive_colbert for row in rows):  # the fused modes' rescoring reads these too
        every = colbert_scores(query_emb.need_colbert(), corpus.embeddings.need_colbert())
    scorer = colbert_scorer(corpus.doc_ids, corpus.embeddings, every) if "colbert" in parts else None
    searcher = Searcher(None, corpus.index, colbert_scorer=scorer)
    inputs = RowInputs(encoder, query_ids, query_texts, query_emb, corpus.doc_ids, corpus.texts, corpus.embeddings,
                       depth, colbert_scores=every, bm25=corpus.bm25)
    engine_modes = list(dict.fromkeys(mode for row in rows for mode in row.engine_modes))
    if share_candidates:
        inputs.engine_runs = searcher.run_modes(query_ids, query_emb, engine_modes, depth) if engine_modes else {}
    else:  # each mode on its own (same numbers, slower: for timing comparisons)
        inputs.engine_runs = {m: searcher.run_embeddings(query_ids, query_emb, depth, mode=m) for m in engine_modes}
    return inputs


def _add_rows(result: SuiteResult, rows: Sequence[Row], subset: str, inputs: RowInputs,
              qrels: Mapping[str, Mapping[str, int]], answers: Mapping[str, Sequence[str]]) -> None:
    """Run and judge every row on one subset: its scores, and its per-query values keyed ``subset/qid``."""
    texts = dict(zip(inputs.doc_ids, inputs.doc_texts)) if answers else {}
    for row in rows:
        run = row.run(inputs)
        if answers:  # MKQA: judged by answer strings in the retrieved passages
            evaluation = EvalResult(*answer_recall(run, answers, texts, result.metrics))
        else:
            evaluation = evaluate(run, qrels, result.metrics)
        result.scores.setdefault(row.name, {})[subset] = evaluation.aggregate
        for metric, values in evaluation.per_query.items():
            result.per_query.setdefault(row.name, {}).setdefault(metric, {}).update(
                {f"{subset}/{qid}": v for qid, v in values.items()})


def _add_groups(result: SuiteResult, groups: Mapping[str, str], group_by: str | None) -> None:
    """Every row's metrics per group of queries, where the queries fall in more than one group."""
    if len(set(groups.values())) <= 1:
        return
    order = {label: i for i, (_, _, label) in enumerate(POSITION_BUCKETS)}
    result.group_label = "answer position" if group_by == "position" else str(group_by)
    for row, row_values in result.per_query.items():
        by_group = EvalResult({}, row_values).by_group(groups)
        result.groups[row] = dict(sorted(by_group.items(), key=lambda item: (order.get(item[0], 0), item[0])))


def run_subsets(
    name: str,
    chosen: Sequence[Subset],
    encoder: EncoderLike,
    *,
    cache: str | Path,
    modes: Sequence[str],
    baseline: str | Sequence[str] | None,
    metrics: tuple[str, ...],
    depth: int = 100,
    split: str = "test",
    group_by: str | None = None,
    share_candidates: bool = True,
    compression: Mapping[str, Any] | None = None,
    index_options: IndexOptions | None = None,
    rerank: Rerank | None = None,
) -> SuiteResult:
    """The engine of :func:`run_suite` and :func:`run_beir`: every row (:mod:`m3search.eval.rows`)
    on every BEIR subset.

    ``index_options`` builds each temporary index with these settings: the table measures what
    such an index returns (rows scored as stored, float16 or uint8; its quantised first stages;
    ``colbert`` through its FDE first stage). ``rerank`` adds cross-encoder rows (:class:`Rerank`).

    ``group_by`` names a query field whose values group the queries across subsets (the answer
    ``position`` of ``long-es``, or ``lang``); groups with a single value are not reported.
    The engine's modes share one first stage per subset (:meth:`Searcher.run_modes`);
    ``share_candidates=False`` runs each on its own (same numbers, slower: for comparison).
    """
    cache = Path(cache)
    if index_options is not None and index_options.reductions:
        compression = {**index_options.reductions, **(compression or {})}
    rows = _rows([*modes, *_baselines(baseline)], index_options, rerank)
    parts = parts_for([mode for row in rows for mode in row.parts_of_modes], encoder.parts)
    result = SuiteResult(name, encoder.identity["name"], metrics,
                         first_stages={r.name: r.first.name for r in rows if isinstance(r, RerankRow)})
    groups: dict[str, str] = {}
    corpora: dict[str, _Corpus] = {}  # by corpus file hash: subsets that share a corpus share its index
    with tempfile.TemporaryDirectory(prefix="m3search-eval-") as tmp:
        try:
            for subset in tqdm(chosen, desc=name, unit="subset"):
                data = read_beir(subset.path, split)
                key = file_hash(subset.path / "corpus.jsonl")
                if key not in corpora:
                    corpora[key] = _open_corpus(data, encoder, parts, cache, key, Path(tmp), compression, index_options)
                queries, answers = _judged(data)
                inputs = _row_inputs(rows, queries, corpora[key], encoder, parts, cache,
                                     file_hash(subset.path / "queries.jsonl"), depth, share_candidates)
                _add_rows(result, rows, subset.name, inputs, data.qrels, answers)
                if group_by:
                    groups.update({f"{subset.name}/{q.id}": str(q.metadata[group_by])
                                   for q in queries if group_by in q.metadata})
        finally:
            for corpus in corpora.values():
                corpus.index.close()
    _add_groups(result, groups, group_by)
    return result
