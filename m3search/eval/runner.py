"""Run every mode of an encoder (and BM25) over a benchmark suite and tabulate the metrics.

For each subset the corpus is encoded once (cached under ``<cache>/embeddings`` by encoder
identity and corpus hash, so ``xquad-cross`` reuses ``xquad-mono``'s encodings), indexed in a
temporary index, and searched in every mode; runs are evaluated with :func:`m3search.evaluate`.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigurationError
from ..identity import identity_hash
from ..index import Index
from ..index.pooling import compress, compress_options
from ..io import embeddings as embeddings_io
from ..scoring import colbert_score, colbert_scores
from ..search import Searcher, check_mode, parts_for, reciprocal_rank_fusion
from ..types import Embeddings, Run
from .baselines.bm25 import BM25, model_tokenizer
from .beir import read_beir
from .metrics import DEFAULT_METRICS, EvalResult, evaluate
from .public_suites import HUB_SUITES, answer_recall, build_hub_suite
from .report import SuiteResult
from .suites import POSITION_BUCKETS, Subset, build_suite

#: Metrics per suite (the first is the one tabulated); LAReQA is reported by mAP@20 as its paper does.
SUITE_METRICS = {
    "lareqa": ("mAP@20", "nDCG@10", "Recall@100"),
}
#: Baseline rows ``m3search eval --baseline`` can add: BM25 over words (character bigrams for
#: scripts without spaces), BM25 over the model's own subword tokens (the paper's BM25 row), and
#: reciprocal rank fusion of the model's dense ranking with the word BM25 ranking.
BASELINES = ("bm25", "bm25-tokens", "rrf-dense-bm25")


def file_hash(path: Path) -> str:
    """Short content hash of a file (links resolved): the cache key of a corpus or query set."""
    return hashlib.sha256(path.resolve().read_bytes()).hexdigest()[:16]


def cached_encode(encoder: Any, texts: list[str], role: str, parts: tuple[str, ...], cache: Path, key: str,
                  ids: list[str]) -> Embeddings:
    """Encode ``texts``, or read them from ``cache/embeddings`` where this encoder (same identity
    and backend) already encoded the same ``key`` with at least these parts."""
    folder = cache / "embeddings"
    # a backend other than torch has its own entries: even where its outputs count as the same
    # model (onnx, openvino-bf16), an evaluation of that backend must measure that backend
    backend = encoder.identity.get("backend")
    prefix = f"{identity_hash(encoder.identity)}{'.' + backend if backend else ''}-{role}"
    for cached in sorted(folder.glob(f"{prefix}-*-{key}.npz")):  # any cached superset of the parts will do
        if set(parts) <= set(cached.name[len(prefix) + 1 : -len(key) - 5].split("+")):
            embeddings = embeddings_io.load(cached)[1]
            return embeddings.only(parts)
    path = folder / f"{prefix}-{'+'.join(parts)}-{key}.npz"
    embeddings = encoder.encode(texts, role=role, parts=parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    embeddings_io.save(path, ids, embeddings)
    return embeddings


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


def run_suite(
    suite: str,
    encoder: Any,
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
) -> SuiteResult:
    """Evaluate ``modes`` of ``encoder`` (and the ``baseline`` rows, see :data:`BASELINES`) on ``suite``:
    a bundled one, or one of the paper's (:data:`~m3search.eval.public_suites.HUB_SUITES`, downloaded on first use).
    ``compression`` (``colbert_pool_factor``, ``sparse_top_k``, ``sparse_min_weight``) reduces the
    documents as an index built with it would store them."""
    _check_rows(encoder, modes, baseline)
    if suite in HUB_SUITES:
        spec = HUB_SUITES[suite]
        built = build_hub_suite(suite, Path(cache) / "suites", languages=subsets, split=split)
        return run_subsets(suite, [Subset(lang, path) for lang, path in built], encoder, cache=cache, modes=modes,
                           baseline=baseline, metrics=tuple(metrics or spec.metrics), depth=depth,
                           split=split or spec.split, compression=compression)
    chosen = [s for s in build_suite(suite, data_dir, Path(cache) / "suites") if subsets is None or s.name in subsets]
    if not chosen:
        raise ConfigurationError(f"no subset of {suite} matches {list(subsets or [])}")
    return run_subsets(suite, chosen, encoder, cache=cache, modes=modes, baseline=baseline,
                       metrics=tuple(metrics or SUITE_METRICS.get(suite, DEFAULT_METRICS)), depth=depth,
                       group_by="position", share_candidates=share_candidates, compression=compression)


def run_beir(
    directories: Sequence[str | Path],
    encoder: Any,
    *,
    cache: str | Path,
    split: str = "test",
    modes: Sequence[str] = ("dense",),
    baseline: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    depth: int = 100,
    name: str = "beir",
    compression: Mapping[str, Any] | None = None,
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
                       compression=compression)


def _check_rows(encoder: Any, modes: Sequence[str], baseline: str | Sequence[str] | None) -> None:
    for mode in modes:
        check_mode(mode, encoder.parts, holder=f"model {encoder.identity['name']!r} (add heads with --heads baseline)")
    for name in _baselines(baseline):
        if name not in BASELINES:
            raise ConfigurationError(f"unknown baseline {name!r}; choose from {list(BASELINES)}")


def _baselines(baseline: str | Sequence[str] | None) -> list[str]:
    return [] if baseline is None else [baseline] if isinstance(baseline, str) else list(baseline)


def run_subsets(
    name: str,
    chosen: Sequence[Subset],
    encoder: Any,
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
) -> SuiteResult:
    """The engine of :func:`run_suite` and :func:`run_beir`: every row on every BEIR subset.

    ``group_by`` names a query field whose values group the queries across subsets (the answer
    ``position`` of ``long-es``, or ``lang``); groups with a single value are not reported.
    The engine's modes share one first stage per subset (:meth:`Searcher.run_modes`);
    ``share_candidates=False`` runs each on its own (same numbers, slower: for comparison).
    """
    cache = Path(cache)
    baselines = _baselines(baseline)
    parts = parts_for([*modes, *(["dense"] if "rrf-dense-bm25" in baselines else [])], encoder.parts)
    result = SuiteResult(name, encoder.identity["name"], metrics)
    rows = list(modes) + baselines
    per_query: dict[str, dict[str, dict[str, float]]] = {}  # row -> metric -> subset/qid -> value
    groups: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="m3search-eval-") as tmp:
        indexes: dict[str, Index] = {}
        corpora: dict[str, Embeddings] = {}
        bm25: dict[tuple[str, str], BM25] = {}
        for subset in tqdm(chosen, desc=name, unit="subset"):
            data = read_beir(subset.path, split)
            corpus_key = file_hash(subset.path / "corpus.jsonl")
            doc_ids, doc_texts = [d.id for d in data.corpus], [d.text for d in data.corpus]
            if corpus_key not in indexes:
                doc_emb = cached_encode(encoder, doc_texts, "document", parts, cache, corpus_key, doc_ids)
                if compression:  # reduced once, here, so that the engine and the numpy rows score the same
                    doc_emb = compress(doc_emb, **compress_options(compression))
                index = Index.create(Path(tmp) / corpus_key, encoder.identity, parts=parts)
                index.add(doc_ids, doc_emb)
                indexes[corpus_key] = index
                corpora[corpus_key] = doc_emb
            answers = {q.id: list(q.metadata["answers"]) for q in data.queries if "answers" in q.metadata}
            queries = [q for q in data.queries if q.id in data.qrels or q.id in answers]
            texts = dict(zip(doc_ids, doc_texts)) if answers else {}
            query_emb = cached_encode(encoder, [q.text for q in queries], "query", parts, cache,
                                       file_hash(subset.path / "queries.jsonl"), [q.id for q in queries])
            # the colbert row scores every query against every document: the fused modes' rescoring reads it
            every = colbert_scores(query_emb.need_colbert(), corpora[corpus_key].need_colbert()) if "colbert" in rows else None
            scorer = colbert_scorer(doc_ids, corpora[corpus_key], every) if "colbert" in parts else None
            searcher = Searcher(None, indexes[corpus_key], colbert_scorer=scorer)
            query_ids, query_texts = [q.id for q in queries], [q.text for q in queries]
            # the engine's modes share one first stage (candidates and their exact scores)
            engine_modes = [r for r in rows if r not in BASELINES and r != "colbert"]
            if "rrf-dense-bm25" in rows and "dense" not in engine_modes:
                engine_modes.append("dense")
            if share_candidates:
                engine_runs = searcher.run_modes(query_ids, query_emb, engine_modes, depth) if engine_modes else {}
            else:  # each mode on its own, as before the first stage was shared (for timing comparisons)
                engine_runs = {m: searcher.run_embeddings(query_ids, query_emb, depth, mode=m) for m in engine_modes}
            for row in rows:
                if row in ("bm25", "bm25-tokens", "rrf-dense-bm25"):
                    kind = "bm25" if row == "rrf-dense-bm25" else row
                    if (corpus_key, kind) not in bm25:
                        tokenizer = model_tokenizer(encoder) if kind == "bm25-tokens" else None
                        bm25[(corpus_key, kind)] = BM25(doc_ids, doc_texts, tokenizer)
                    run = bm25[(corpus_key, kind)].run(query_ids, query_texts, k=depth)
                    if row == "rrf-dense-bm25":
                        run = rrf_runs([engine_runs["dense"], run], depth)
                elif row == "colbert":  # exhaustive MaxSim: numpy BLAS is many times faster than a full engine scan
                    run = exact_colbert_run(query_ids, query_emb, doc_ids, corpora[corpus_key], depth, every)
                else:
                    run = engine_runs[row]
                if answers:  # MKQA: judged by answer strings in the retrieved passages
                    evaluation = EvalResult(*answer_recall(run, answers, texts, metrics))
                else:
                    evaluation = evaluate(run, data.qrels, metrics)
                result.scores.setdefault(row, {})[subset.name] = evaluation.aggregate
                for metric, values in evaluation.per_query.items():
                    per_query.setdefault(row, {}).setdefault(metric, {}).update(
                        {f"{subset.name}/{qid}": v for qid, v in values.items()})
            if group_by:
                groups.update({f"{subset.name}/{q.id}": str(q.metadata[group_by])
                               for q in queries if group_by in q.metadata})
        for index in indexes.values():
            index.close()
    result.per_query = per_query
    if len(set(groups.values())) > 1:
        order = {label: i for i, (_, _, label) in enumerate(POSITION_BUCKETS)}
        result.group_label = "answer position" if group_by == "position" else str(group_by)
        for row, row_values in per_query.items():
            by_group = EvalResult({}, row_values).by_group(groups)
            result.groups[row] = dict(sorted(by_group.items(), key=lambda item: (order.get(item[0], 0), item[0])))
    return result
