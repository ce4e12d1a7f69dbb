"""Run every mode of an encoder (and BM25) over a benchmark suite and tabulate the metrics.

For each subset the corpus is encoded once (cached under ``<cache>/embeddings`` by encoder
identity and corpus hash, so ``xquad-cross`` reuses ``xquad-mono``'s encodings), indexed in a
temporary index, and searched in every mode; runs are evaluated with :func:`m3search.evaluate`.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import ConfigurationError
from ..identity import identity_hash
from ..index import Index
from ..io import embeddings as embeddings_io
from ..search import Searcher, check_mode, parts_for
from ..types import PARTS, Embeddings
from .baselines.bm25 import BM25
from .beir import read_beir
from .metrics import DEFAULT_METRICS, EvalResult, evaluate
from .report import SuiteResult
from .suites import POSITION_BUCKETS, build_suite

#: Metrics per suite (the first is the one tabulated); LAReQA is reported by mAP@20 as its paper does.
SUITE_METRICS = {
    "lareqa": ("mAP@20", "nDCG@10", "Recall@100"),
}
#: Baseline rows ``m3search eval --baseline`` can add.
BASELINES = ("bm25",)


def file_hash(path: Path) -> str:
    """Short content hash of a file (links resolved): the cache key of a corpus or query set."""
    return hashlib.sha256(path.resolve().read_bytes()).hexdigest()[:16]


def cached_encode(encoder: Any, texts: list[str], role: str, parts: tuple[str, ...], cache: Path, key: str,
                  ids: list[str]) -> Embeddings:
    """Encode ``texts``, or read them from ``cache/embeddings`` where this encoder already
    encoded the same ``key`` with at least these parts."""
    folder = cache / "embeddings"
    prefix = f"{identity_hash(encoder.identity)}-{role}"
    for cached in sorted(folder.glob(f"{prefix}-*-{key}.npz")):  # any cached superset of the parts will do
        if set(parts) <= set(cached.name[len(prefix) + 1 : -len(key) - 5].split("+")):
            embeddings = embeddings_io.load(cached)[1]
            return Embeddings(**{p: getattr(embeddings, p) if p in parts else None for p in PARTS})
    path = folder / f"{prefix}-{'+'.join(parts)}-{key}.npz"
    embeddings = encoder.encode(texts, role=role, parts=parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    embeddings_io.save(path, ids, embeddings)
    return embeddings


def run_suite(
    suite: str,
    encoder: Any,
    *,
    data_dir: str | Path,
    cache: str | Path,
    modes: Sequence[str] = ("dense",),
    baseline: str | None = None,
    metrics: Sequence[str] | None = None,
    subsets: Sequence[str] | None = None,
    depth: int = 100,
) -> SuiteResult:
    """Evaluate ``modes`` of ``encoder`` (and BM25 when ``baseline="bm25"``) on ``suite``."""
    cache = Path(cache)
    metrics = tuple(metrics or SUITE_METRICS.get(suite, DEFAULT_METRICS))
    for mode in modes:
        check_mode(mode, encoder.parts, holder=f"model {encoder.identity['name']!r} (add heads with --heads baseline)")
    if baseline is not None and baseline not in BASELINES:
        raise ConfigurationError(f"unknown baseline {baseline!r}; choose from {list(BASELINES)}")
    parts = parts_for(modes, encoder.parts)
    chosen = [s for s in build_suite(suite, data_dir, cache / "suites") if subsets is None or s.name in subsets]
    if not chosen:
        raise ConfigurationError(f"no subset of {suite} matches {list(subsets or [])}")
    result = SuiteResult(suite, encoder.identity["name"], metrics)
    rows = list(modes) + ([baseline] if baseline else [])
    per_query: dict[str, dict[str, dict[str, float]]] = {}  # row -> metric -> qid -> value, over all subsets
    positions: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="m3search-eval-") as tmp:
        indexes: dict[str, Index] = {}
        bm25: dict[str, BM25] = {}
        for subset in tqdm(chosen, desc=suite, unit="subset"):
            data = read_beir(subset.path)
            corpus_key = file_hash(subset.path / "corpus.jsonl")
            doc_ids, doc_texts = [d.id for d in data.corpus], [d.text for d in data.corpus]
            if corpus_key not in indexes:
                doc_emb = cached_encode(encoder, doc_texts, "document", parts, cache, corpus_key, doc_ids)
                index = Index.create(Path(tmp) / corpus_key, encoder.identity, parts=parts)
                index.add(doc_ids, doc_emb)
                indexes[corpus_key] = index
            queries = [q for q in data.queries if q.id in data.qrels]
            query_emb = cached_encode(encoder, [q.text for q in queries], "query", parts, cache,
                                       file_hash(subset.path / "queries.jsonl"), [q.id for q in queries])
            searcher = Searcher(None, indexes[corpus_key])
            for row in rows:
                if row == "bm25":
                    if corpus_key not in bm25:
                        bm25[corpus_key] = BM25(doc_ids, doc_texts)
                    run = bm25[corpus_key].run([q.id for q in queries], [q.text for q in queries], k=depth)
                else:
                    run = searcher.run_embeddings([q.id for q in queries], query_emb, depth, mode=row)
                evaluation = evaluate(run, data.qrels, metrics)
                result.scores.setdefault(row, {})[subset.name] = evaluation.aggregate
                for metric, values in evaluation.per_query.items():
                    per_query.setdefault(row, {}).setdefault(metric, {}).update(
                        {f"{subset.name}/{qid}": v for qid, v in values.items()})
            positions.update({f"{subset.name}/{q.id}": q.metadata["position"]
                              for q in queries if "position" in q.metadata})
        for index in indexes.values():
            index.close()
    if positions:
        order = {label: i for i, (_, _, label) in enumerate(POSITION_BUCKETS)}
        for row, row_values in per_query.items():
            groups = EvalResult({}, row_values).by_group(positions)
            result.groups[row] = dict(sorted(groups.items(), key=lambda item: order[item[0]]))
    return result
