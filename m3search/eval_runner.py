"""Run every mode of an encoder (and BM25) over a benchmark suite and tabulate the metrics.

For each subset the corpus is encoded once (cached under ``<cache>/embeddings`` by encoder
identity and corpus hash, so ``xquad-cross`` reuses ``xquad-mono``'s encodings), indexed in a
temporary index, and searched in every mode; runs are evaluated with :func:`m3search.evaluate`.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from . import embeddings_io
from .beir import read_beir
from .bm25 import BM25
from .errors import ConfigurationError
from .evaluate import evaluate
from .index import Index
from .search import MODE_PARTS, Searcher
from .suites import POSITION_BUCKETS, build_suite
from .types import PARTS, Embeddings

#: Metrics per suite (the first is the one tabulated); LAReQA is reported by mAP@20 as its paper does.
SUITE_METRICS = {
    "lareqa": ("mAP@20", "nDCG@10", "Recall@100"),
}
DEFAULT_METRICS = ("nDCG@10", "Recall@100", "MRR@10")


@dataclass
class SuiteResult:
    suite: str
    model: str
    metrics: tuple[str, ...]
    #: mode -> subset -> metric -> value
    scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: mode -> group (e.g. answer position) -> metric -> value, where the suite has groups
    groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def average(self, mode: str, metric: str) -> float:
        return float(np.mean([v[metric] for v in self.scores[mode].values()]))

    def _matrix(self, metric: str, pairs: list[str]) -> str:
        """Cross-lingual suites: one matrix per mode, rows = query language, columns = document language."""
        rows = list(dict.fromkeys(p.split("-")[0] for p in pairs))
        cols = list(dict.fromkeys(p.split("-")[1] for p in pairs))
        lines = []
        for mode, per_pair in self.scores.items():
            lines += [f"{self.suite} · {self.model} · {mode} · {metric} (rows: queries, columns: documents)",
                      "      " + "".join(f"{c:>7}" for c in cols) + f"{'avg':>7}"]
            for r in rows:
                values = [per_pair[f"{r}-{c}"][metric] for c in cols if f"{r}-{c}" in per_pair]
                lines.append(f"{r:<6}" + "".join(f"{v:>7.3f}" for v in values) + f"{np.mean(values):>7.3f}")
            lines.append(f"{'all':<6}{self.average(mode, metric):>7.3f}\n")
        return "\n".join(lines).rstrip()

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "model": self.model, "metrics": list(self.metrics), "scores": self.scores,
                "averages": {m: {k: self.average(m, k) for k in self.metrics} for m in self.scores},
                "groups": self.groups}

    def table(self, metric: str | None = None) -> str:
        """Rows = modes, columns = subsets and their average (like Table 1 of the M3 paper)."""
        metric = metric or self.metrics[0]
        subsets = list(next(iter(self.scores.values())))
        if all(s.count("-") == 1 for s in subsets):
            return self._matrix(metric, subsets)
        width = max(6, max(len(s) for s in subsets) + 1)
        lines = [f"{self.suite} · {self.model} · {metric}",
                 f"{'mode':<14}" + "".join(f"{s:>{width}}" for s in subsets) + f"{'avg':>{width}}"]
        for mode, per_subset in self.scores.items():
            lines.append(f"{mode:<14}" + "".join(f"{per_subset[s][metric]:>{width}.3f}" for s in subsets)
                         + f"{self.average(mode, metric):>{width}.3f}")
        if self.groups:
            groups = list(next(iter(self.groups.values())))
            lines.append(f"\nby answer position · {metric}")
            lines.append(f"{'mode':<14}" + "".join(f"{g:>8}" for g in groups))
            for mode, per_group in self.groups.items():
                lines.append(f"{mode:<14}" + "".join(f"{per_group[g][metric]:>8.3f}" for g in groups))
        return "\n".join(lines)


def file_hash(path: Path) -> str:
    """Short content hash of a file (links resolved): the cache key of a corpus or query set."""
    return hashlib.sha256(path.resolve().read_bytes()).hexdigest()[:16]


def _identity_hash(encoder: Any) -> str:
    return hashlib.sha256(json.dumps(encoder.identity, sort_keys=True).encode()).hexdigest()[:16]


def cached_encode(encoder: Any, texts: list[str], role: str, parts: tuple[str, ...], cache: Path, key: str,
                  ids: list[str]) -> Embeddings:
    """Encode ``texts``, or read them from ``cache/embeddings`` where this encoder already
    encoded the same ``key`` with at least these parts."""
    folder = cache / "embeddings"
    prefix = f"{_identity_hash(encoder)}-{role}"
    for cached in sorted(folder.glob(f"{prefix}-*-{key}.npz")):  # any cached superset of the parts will do
        if set(parts) <= set(cached.name[len(prefix) + 1 : -len(key) - 5].split("+")):
            embeddings = embeddings_io.load(cached)[1]
            return Embeddings(**{p: getattr(embeddings, p) if p in parts else None for p in PARTS})
    path = folder / f"{prefix}-{'+'.join(parts)}-{key}.npz"
    embeddings = encoder.encode(texts, role=role, parts=parts, show_progress=len(texts) >= 256)
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
        if mode not in MODE_PARTS:
            raise ConfigurationError(f"unknown mode {mode!r}")
        missing = [p for p in MODE_PARTS[mode] if p not in encoder.parts]
        if missing:
            raise ConfigurationError(f"mode {mode!r} needs {missing}, which {encoder.identity['name']!r} lacks "
                                     "(add baseline heads with --heads baseline)")
    if baseline not in (None, "bm25"):
        raise ConfigurationError(f"unknown baseline {baseline!r}; the only one is 'bm25'")
    parts = tuple(p for p in ("dense", "sparse", "colbert") if any(p in MODE_PARTS[m] for m in modes)
                  or (p == "colbert" and "rrf" in modes and "colbert" in encoder.parts))
    chosen = [s for s in build_suite(suite, data_dir, cache / "suites") if subsets is None or s.name in subsets]
    if not chosen:
        raise ConfigurationError(f"no subset of {suite} matches {list(subsets or [])}")
    result = SuiteResult(suite, encoder.identity["name"], metrics)
    rows = list(modes) + (["bm25"] if baseline else [])
    per_query_groups: dict[str, dict[str, dict[str, list[float]]]] = {}
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
                    hits = searcher.search_embeddings(query_emb, depth, mode=row, fetch_documents=False)
                    run = {q.id: {h.id: h.score for h in result_hits} for q, result_hits in zip(queries, hits)}
                evaluation = evaluate(run, data.qrels, metrics)
                result.scores.setdefault(row, {})[subset.name] = evaluation.aggregate
                positions = {q.id: q.metadata["position"] for q in queries if "position" in q.metadata}
                if positions:
                    for metric, values in evaluation.per_query.items():
                        for qid, value in values.items():
                            group = per_query_groups.setdefault(row, {}).setdefault(positions[qid], {})
                            group.setdefault(metric, []).append(value)
        for index in indexes.values():
            index.close()
    order = {label: i for i, (_, _, label) in enumerate(POSITION_BUCKETS)}
    result.groups = {
        row: {g: {m: float(np.mean(v)) for m, v in per_metric.items()}
              for g, per_metric in sorted(groups.items(), key=lambda item: order[item[0]])}
        for row, groups in per_query_groups.items()
    }
    return result
