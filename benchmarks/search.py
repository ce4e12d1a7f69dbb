"""Search latency, throughput, recall and size: m3search (qdrant-edge) against brute-force numpy
and qdrant-client's local mode, side by side on the same data and queries.

Data (``--generator noise``, the default): synthetic vectors shaped like the offline model's output on real paragraphs (dense 384-d
in topical clusters; ~130 sparse token ids from a 250k vocabulary, Zipf-distributed; multi-vector
rows of 384-d, as many per document as the real XQuAD paragraphs have: log-normal around 190,
or ``--rows N``, divided by ``--pool-factor``), with queries made from perturbed documents so that
each has true neighbours. Documents are generated in chunks, so that 100K real-shaped documents
(~16 GB of float16 rows) never sit in memory at once: a chunk is indexed, and later regenerated
(same seed) to compute the exact top-10 of every mode by numpy brute force. The index is then
searched by a fresh process, whose peak RSS is the memory serving takes. For every mode: p50/p95
latency of one query at a time, QPS (1 / mean latency), recall@10 against exact brute force of the
same mode, bytes per document on disk, build time. Prints a table and writes JSON.

``--generator tokens`` draws the three parts of a document from one token sequence instead
(``benchmarks/token_corpus.py``), fitted at 19,313 documents so that the first stages find
``colbert``'s and ``all``'s exact top 10 about as often as on real paragraphs (slightly less):
the first generator's multi-vector rows are noise no first stage sees, which bounds how first
stages cope with noise rather than forecasting real text.

    .venv/bin/python benchmarks/search.py --sizes 10000,100000
    .venv/bin/python benchmarks/search.py --sizes 10000 --pool-factor 2 --storage uint8 --candidates 100,50
    .venv/bin/python benchmarks/search.py --sizes "" --real      # the 2,880 real XQuAD paragraphs
    .venv/bin/python benchmarks/search.py --sizes 1000000 --generator tokens --compression compact --on-disk
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from publish import add_publish_option, publish  # benchmarks/publish.py
from token_corpus import token_docs, token_queries  # benchmarks/token_corpus.py
from tqdm import tqdm

from m3search.index import Index, IndexOptions
from m3search.scoring import DEFAULT_WEIGHTS, colbert_scores, combine, dense_scores, sparse_scores
from m3search.search import Searcher
from m3search.search.modes import MODE_PARTS
from m3search.search.stages import first_stage_ef
from m3search.types import Embeddings, Ragged, SparseBatch, SparseVector

ROOT = Path(__file__).resolve().parents[1]
DIM, VOCAB = 384, 250_002
MODES = ("dense", "sparse", "dense+sparse", "all", "rrf", "colbert")
#: The row of ``colbert`` whose candidates come from the FDE first stage alone.
COLBERT_FDE = "colbert (FDE candidates)"
#: The row of ``colbert`` whose candidates come from the FDE, dense and sparse first stages.
COLBERT_ALL_STAGES = "colbert (FDE + dense + sparse candidates)"
#: The row of ``colbert`` whose candidates come from the dense and sparse first stages alone.
COLBERT_DENSE_SPARSE = "colbert (dense + sparse candidates)"
FDE = "colbert_fde"
IDENTITY = {"name": "synthetic-e5-small-shape", "dim": DIM, "colbert_dim": DIM, "parts": ["dense", "sparse", "colbert"],
            "config_hash": "synthetic", "vocab_size": VOCAB, "heads": "synthetic"}


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


#: Multi-vector rows per document, fitted to the offline model's 2,880 XQuAD paragraphs
#: (median 190, 5th/95th percentiles ~105/~370, mean ~206): log-normal, clipped to [16, 512].
REAL_ROWS_MEDIAN, REAL_ROWS_SIGMA = 190.0, 0.406
#: Lexical weights per document (the real paragraphs average ~133) and per query.
DOC_TERMS, QUERY_TERMS, QUERY_ROWS = 130, 10, 16


def row_counts(n: int, rows: int | None, pool_factor: int, rng: np.random.Generator) -> np.ndarray:
    """Rows per document: ``rows`` each, or real-shaped (``None``); divided by the pool factor."""
    if rows is None:
        counts = np.clip(np.rint(REAL_ROWS_MEDIAN * np.exp(rng.normal(0, REAL_ROWS_SIGMA, n))), 16, 512)
    else:
        counts = np.full(n, rows)
    return np.maximum(counts // pool_factor, 1).astype(np.int64)


def synthetic_docs(n: int, rows: int | None, rng: np.random.Generator, pool_factor: int = 1,
                   centres: np.ndarray | None = None, multivector: bool = True, colbert_dim: int = DIM) -> Embeddings:
    """``n`` documents: dense in topical clusters, ~130 Zipf-distributed token weights, and
    multi-vector rows around the dense vector's first ``colbert_dim`` dimensions (float16, what
    the index stores)."""
    if centres is None:
        centres = _normalise(np.random.default_rng(12345).normal(size=(64, DIM)))  # topical clusters, like real text
    # a document is its topic's centre plus its own direction (norm ~1): cosines between documents of
    # one topic land near 0.5 and across topics near 0, a spread like real text embeddings'
    dense = _normalise(centres[rng.integers(0, 64, n)] + rng.normal(size=(n, DIM)) / np.sqrt(DIM))
    vectors = []
    for _ in range(n):
        ids = np.unique(np.minimum(rng.zipf(1.3, DOC_TERMS) + rng.integers(0, 2000), VOCAB - 1))
        vectors.append(SparseVector(ids.astype(np.int64), rng.uniform(0.01, 0.3, len(ids)).astype(np.float32)))
    if not multivector:
        return Embeddings(dense=dense, sparse=SparseBatch.from_vectors(vectors))
    counts = row_counts(n, rows, pool_factor, rng)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    colbert = np.empty((int(offsets[-1]), colbert_dim), dtype=np.float16)
    owner = np.repeat(np.arange(n), counts)
    centre = _normalise(dense[:, :colbert_dim])
    for a in range(0, len(colbert), 200_000):  # in chunks, to bound memory
        b = min(a + 200_000, len(colbert))
        noise = rng.standard_normal(size=(b - a, colbert_dim), dtype=np.float32) / np.sqrt(colbert_dim) * 1.5
        colbert[a:b] = _normalise(centre[owner[a:b]] + noise)
    return Embeddings(dense=dense, sparse=SparseBatch.from_vectors(vectors), colbert=Ragged(colbert, offsets))


def synthetic_queries(docs: Embeddings, picks: np.ndarray, rng: np.random.Generator) -> Embeddings:
    """A query per picked document: the document perturbed (noise norm 0.7), so that its source is
    usually, not always, the best match; ~10 of its terms and 16 of its rows."""
    n = len(picks)
    dense = _normalise(docs.dense[picks] + rng.normal(size=(n, DIM)).astype(np.float32) / np.sqrt(DIM) * 0.7)
    sparse, colbert = [], []
    for j in picks:
        v = docs.sparse[int(j)]
        keep = np.sort(rng.choice(len(v), size=min(QUERY_TERMS, len(v)), replace=False))
        sparse.append(SparseVector(v.ids[keep], v.weights[keep]))
        if docs.colbert is not None:
            rows = docs.colbert[int(j)][:QUERY_ROWS].astype(np.float32)
            colbert.append(_normalise(rows + rng.normal(size=rows.shape).astype(np.float32) / np.sqrt(rows.shape[1]) * 0.7))
    return Embeddings(dense=dense, sparse=SparseBatch.from_vectors(sparse),
                      colbert=Ragged.from_arrays(colbert) if colbert else None)


def exact_scores(docs: Embeddings, queries: Embeddings, modes: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Every query's exact score against every document, per part needed by ``modes``."""
    return timed_exact_scores(docs, queries, modes)[0]


def timed_exact_scores(docs: Embeddings, queries: Embeddings, modes: tuple[str, ...]) -> tuple[dict, dict]:
    """:func:`exact_scores` and the seconds each part took."""
    needed = {p for m in modes for p in MODE_PARTS[m]}
    scores, seconds = {}, {}
    for part in ("dense", "sparse", "colbert"):
        if part not in needed:
            continue
        start = time.perf_counter()
        if part == "dense":
            scores[part] = dense_scores(queries.dense, docs.dense)
        elif part == "sparse":
            scores[part] = sparse_scores(queries.sparse, docs.sparse)
        else:
            chunks = range(0, len(docs), 2000)  # bounded memory
            scores[part] = np.concatenate(
                [colbert_scores(queries.colbert, docs.colbert.take(range(a, min(a + 2000, len(docs))))) for a in chunks],
                axis=1)
        seconds[part] = time.perf_counter() - start
    return scores, seconds


def mode_scores(scores: dict[str, np.ndarray], mode: str) -> np.ndarray:
    parts = MODE_PARTS[mode]
    return scores[mode] if len(parts) == 1 else combine({p: scores[p] for p in parts}, DEFAULT_WEIGHTS)


def brute_force(docs: Embeddings, queries: Embeddings, mode: str, k: int) -> list[list[int]]:
    """Exact top-k doc indices of each query for one mode, in numpy."""
    final = mode_scores(exact_scores(docs, queries, (mode,)), mode)
    return [list(np.argsort(-row, kind="stable")[:k]) for row in final]


class TopK:
    """Running exact top-k document indices per query and mode over chunks of documents."""

    def __init__(self, n_queries: int, modes: tuple[str, ...], k: int) -> None:
        self.k, self.modes = k, modes
        self.best = {m: [np.empty((0, 2)) for _ in range(n_queries)] for m in modes}

    def update(self, scores: dict[str, np.ndarray], first_doc: int) -> None:
        for mode in self.modes:
            final = mode_scores(scores, mode)
            for i, row in enumerate(final):
                top = np.argsort(-row, kind="stable")[: self.k]
                merged = np.concatenate([self.best[mode][i], np.stack([row[top], top + first_doc], axis=1)])
                self.best[mode][i] = merged[np.lexsort((merged[:, 1], -merged[:, 0]))][: self.k]

    def ids(self, mode: str) -> list[list[int]]:
        return [[int(j) for j in b[:, 1]] for b in self.best[mode]]


def time_queries(fn, queries: Embeddings, limit: int) -> tuple[list[float], list]:
    latencies, results = [], []
    for i in range(min(limit, len(queries))):
        q = queries.take([i])
        start = time.perf_counter()
        results.append(fn(q))
        latencies.append(time.perf_counter() - start)
    return latencies, results


def recall(found: list[list[str]], exact: list[list[int]], k: int) -> float:
    hits = [len({f"d{j}" for j in e[:k]} & set(f[:k])) / k for f, e in zip(found, exact)]
    return float(np.mean(hits))


def summarise(system: str, mode: str, size: int, latencies: list[float], rec: float | None, bytes_per_doc) -> dict:
    lat = np.array(latencies) * 1000
    return {"system": system, "mode": mode, "documents": size, "p50_ms": float(np.percentile(lat, 50)),
            "p95_ms": float(np.percentile(lat, 95)), "qps": float(1000 / lat.mean()), "recall@10": rec,
            "bytes_per_doc": bytes_per_doc, "queries": len(latencies)}


def real_corpus(args, rng: np.random.Generator) -> tuple[Embeddings, Embeddings, dict, list[str]]:
    """The paragraphs of ``--real-suites`` (every subset's corpus, concatenated) and a sample of
    their questions, encoded by the offline model (the preset's model with ``--compression``);
    cached with ``m3search eval``'s encodings."""
    from m3search.encode import Encoder, cache_dir
    from m3search.eval.beir import read_beir
    from m3search.eval.runner import cached_encode, file_hash
    from m3search.eval.suites import build_suite
    from m3search.index.presets import PRESETS

    encoder = Encoder.load(PRESETS[args.compression].default_model if args.compression else "multilingual-e5-small")
    parts = ("dense", "sparse", "colbert")
    docs, queries, names, seen = [], [], [], set()
    for suite in args.real_suites:
        for subset in build_suite(suite, args.data, cache_dir() / "suites"):
            data, key = read_beir(subset.path), file_hash(subset.path / "corpus.jsonl")
            if key not in seen:  # LAReQA's languages share one pool of sentences: held once
                seen.add(key)
                docs.append(cached_encode(encoder, [d.text for d in data.corpus], "document", parts, cache_dir(),
                                          key, [d.id for d in data.corpus]))
            queries.append(cached_encode(encoder, [q.text for q in data.queries], "query", parts, cache_dir(),
                                         file_hash(subset.path / "queries.jsonl"), [q.id for q in data.queries]))
            names.append(f"{suite}/{subset.name}")
    pick = rng.choice(sum(len(q) for q in queries), size=args.queries, replace=False)
    return _concat(docs), _concat(queries).take(sorted(pick)), dict(encoder.identity), names


def _variants(mode: str, index: Index) -> list[tuple[str, tuple[str, ...] | None]]:
    """The rows of one mode, ``(label, colbert_stages)``: ``colbert`` through the FDE alone, with
    the dense and sparse candidates too, and through the dense and sparse candidates alone (an
    index without an FDE: its full scan, unless it searches ``colbert`` by candidates, then those
    candidates)."""
    if mode != "colbert":
        return [(mode, None)]
    lexical = [(COLBERT_DENSE_SPARSE, ("dense", "sparse"))] if {"dense", "sparse"} <= set(index.parts) else []
    if FDE not in index.vectors:
        return lexical if lexical and index.manifest.colbert_search == "candidates" else [(mode, None)] + lexical
    return [(COLBERT_FDE, (FDE,)), (COLBERT_ALL_STAGES, (FDE, "dense", "sparse"))] + lexical


def _concat(batches: list[Embeddings]) -> Embeddings:
    return Embeddings(
        dense=np.concatenate([b.dense for b in batches]),
        sparse=SparseBatch.from_vectors([v for b in batches for v in b.sparse]),
        colbert=Ragged.from_arrays([m for b in batches for m in b.colbert]) if batches[0].colbert is not None else None,
    )


def current_rss() -> int:
    """Resident bytes of this process now (Linux; 0 elsewhere)."""
    return memory_status().get("VmRSS", 0)


def memory_status() -> dict[str, int]:
    """This process's own memory from ``/proc/self/status`` in bytes: ``VmHWM`` (its peak resident
    set), ``VmRSS``, ``RssAnon`` (heap) and ``RssFile`` (mapped files, which the kernel can drop).

    ``getrusage``'s ``ru_maxrss`` is no measure of a child process: on Linux a process started by
    ``subprocess`` inherits its parent's peak in it (a parent that used 2 GiB starts a child whose
    ``ru_maxrss`` reads 2 GiB while its own peak is 11 MB), so the search process reported the
    build's peak as its own."""
    try:
        with open("/proc/self/status") as f:
            return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f
                    if line.startswith(("VmHWM:", "VmRSS:", "RssAnon:", "RssFile:"))}
    except OSError:
        return {}


def directory_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (measured with the index closed: an open shard may still
    hold the segments an optimisation replaced)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def allocated_bytes(path: Path) -> int:
    """Bytes the files under ``path`` take on disk (allocated blocks, as ``du`` counts them: the
    engine reserves segment space that a file's apparent size counts and the disk may not hold)."""
    return sum(f.stat().st_blocks * 512 for f in Path(path).rglob("*") if f.is_file())


def modes_of(parts: Sequence[str]) -> tuple[str, ...]:
    """The modes an index of ``parts`` can run."""
    return tuple(m for m in MODES if set(MODE_PARTS[m]) <= set(parts))


def search_rows(index: Index, queries: Embeddings, exact: dict[str, list[list[int]]], args, size: int,
                numpy_ms: dict[str, float], local: Index | None = None, disk_bytes: float | None = None,
                on_row: Any = None) -> list[dict]:
    """Time every mode (and every candidate depth of the fused modes) one query at a time
    (``on_row(rows)`` after each row: the search process saves what it has measured)."""
    rows = []
    # colbert searches through first stages: no full scan
    first_stage = FDE in index.vectors or index.manifest.colbert_search == "candidates"
    for mode in modes_of(index.parts):
        limit = args.queries if mode != "colbert" or first_stage else args.colbert_queries
        if mode in numpy_ms and limit:
            rows.append(summarise("numpy brute force", mode, size, [numpy_ms[mode] / 1000] * limit, 1.0, None))
            print(_format(rows[-1]))
        systems = [("m3search (qdrant-edge)", index)] + ([("qdrant-client local", local)] if local is not None else [])
        for (name, target), (label, stages) in ((s, v) for s in systems for v in _variants(mode, index)):
            fused = mode in ("dense+sparse", "all", "rrf") or stages is not None
            limit = args.colbert_queries if mode == "colbert" and not fused else args.queries
            if limit == 0:
                continue
            depths = args.candidates if fused else args.candidates[:1]
            settings = [(d, e) for d in (depths if name.startswith("m3search") else depths[:1])
                        for e in (args.hnsw_ef if fused else [None])]
            # "auto" and a number may name the same beam width at some depth: run it once
            settings = list(dict.fromkeys((d, (e or first_stage_ef(d)) if fused else None) for d, e in settings))
            for depth, ef in settings:
                searcher = Searcher(None, target, candidates=depth, colbert_stages=stages, hnsw_ef=ef)
                latencies, results = time_queries(
                    lambda q, s=searcher, m=mode: s.search_embeddings(q, 10, mode=m, fetch_documents=False), queries, limit)
                found = [[h.id for h in r[0]] for r in results]
                row = summarise(name, label, size, latencies, recall(found, exact[mode], 10) if mode in exact else None,
                                disk_bytes / size if disk_bytes and target is index else None)
                row["candidates"] = depth
                row["hnsw_ef"] = ef
                row["rss_after_mib"] = current_rss() / 2**20  # this process, after the mode ran
                rows.append(row)
                if on_row is not None:
                    on_row(rows)
                print(_format(row))
    return rows


def bench_real(args, rng) -> list[dict]:
    """Real paragraphs (``--real-suites``), encoded by the offline model, stored as the options
    say (``--compression compact``: pooled, uint8); exact answers over the stored rows."""
    from m3search.eval.runner import as_stored
    from m3search.index.pooling import compress, compress_options

    print(f"\n== real paragraphs: {', '.join(args.real_suites)} ==")
    docs, queries, identity, names = real_corpus(args, rng)
    options = IndexOptions(colbert_storage=args.storage, dense_storage=args.dense_storage, fde=args.fde,
                           quantization=args.quantize, compression=args.compression)
    if options.reductions:  # reduced once, here, so that the engine and numpy score the same rows
        docs = compress(docs, **compress_options(options.reductions))
    docs = as_stored(docs, options.colbert_storage or "float16", options.dense_storage or "float32")
    options = IndexOptions.of(options, compression={})
    size = len(docs)
    ids = [f"d{i}" for i in range(size)]
    work = Path(tempfile.mkdtemp(prefix="m3search-bench-", dir=args.workdir))
    try:
        index = Index.create(work / "edge", identity, options=options)
        start = time.perf_counter()
        index.add(ids, docs, batch_size=500, show_progress=True)
        index.optimize()
        index.close()
        build_s = time.perf_counter() - start
        disk = directory_bytes(work / "edge")
        index = Index.open(work / "edge")
        print(f"{size} paragraphs of {len(names)} subsets built in {build_s:.1f}s, {disk / size:.0f} bytes/doc")
        local = None
        if args.local_max >= size:
            from qdrant_client import QdrantClient

            from m3search.index import QdrantClientBackend

            local = Index.create(QdrantClientBackend(QdrantClient(":memory:"), "bench"), identity, options=options)
            local.add(ids, docs, batch_size=500, show_progress=True)
        exact, numpy_ms = {}, {}
        for mode in modes_of(index.parts):
            if mode == "rrf":
                continue
            start = time.perf_counter()
            exact[mode] = brute_force(docs, queries, mode, 10)
            numpy_ms[mode] = (time.perf_counter() - start) / len(queries) * 1000
        rows = search_rows(index, queries, exact, args, size, numpy_ms, local, disk)
        index.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for row in rows:
        row.update({"data": "+".join(args.real_suites), "preset": args.compression, "storage": options.colbert_storage, "dense_storage": options.dense_storage,
                    "build_s": build_s, "rows_per_doc": len(docs.colbert.data) / size if docs.colbert is not None else 0})
    return rows


def _chunk(args, size: int, a: int) -> tuple[Embeddings, Any]:
    """Documents ``a .. a + chunk`` of the synthetic collection of ``size`` (the same on every
    call) and what queries for them are made from (``--generator tokens``: their tokens)."""
    from m3search.index.pooling import compress

    n = min(args.chunk, size - a)
    rng = np.random.default_rng([args.seed, size, a])
    sources = None
    if args.generator == "tokens":
        docs, sources = token_docs(n, rng, args.pool_factor, args.colbert_dim, args.rows)
        if "colbert" not in args.parts:
            docs = Embeddings(dense=docs.dense, sparse=docs.sparse)
    else:
        docs = synthetic_docs(n, args.rows, rng, args.pool_factor, multivector="colbert" in args.parts,
                              colbert_dim=args.colbert_dim)
    # sparse pruning shapes the documents, like the pool factor: the index and the exact answers see the same weights
    return (compress(docs, top_k=args.sparse_top_k) if args.sparse_top_k else docs), sources


def _queries(args, docs: Embeddings, sources: Any, local: np.ndarray, rng: np.random.Generator) -> Embeddings:
    """Queries for the documents ``local`` of one chunk, by the chunk's generator."""
    if sources is not None:
        return token_queries(sources, local, rng)
    return synthetic_queries(docs, local, rng)


def bench_scale(size: int, args) -> list[dict]:
    """``size`` synthetic real-shaped documents, streamed in chunks (built, then regenerated for
    the exact answers), searched by a fresh process (its peak RSS is the serving memory)."""
    shape = "real-shaped" if args.rows is None else f"{args.rows}-row"
    print(f"\n== {size} synthetic {shape} documents, {args.colbert_dim}-wide rows, pool factor {args.pool_factor}, "
          f"{args.storage}{', preset ' + args.compression if args.compression else ''} ==")
    from m3search.index import ShardSettings

    picks = np.sort(np.random.default_rng([args.seed, size]).choice(size, args.queries, replace=False))
    work = Path(tempfile.mkdtemp(prefix="m3search-bench-", dir=args.workdir))
    try:
        layout = ShardSettings(on_disk=args.on_disk, max_segment_size_kb=args.max_segment_mb * 1024 if args.max_segment_mb else None)
        options = IndexOptions(colbert_storage=args.storage, dense_storage=args.dense_storage,
                               settings=layout if args.on_disk or args.max_segment_mb else None,
                               fde=args.fde, quantization=args.quantize, compression=args.compression,
                               hnsw=args.hnsw_build)
        # the generator already shaped the rows as the preset's pooling would (--pool-factor): not pooled twice
        options = IndexOptions.of(options, compression={})
        identity = {**IDENTITY, "colbert_dim": args.colbert_dim, "parts": list(args.parts)}
        index = Index.create(work / "edge", identity, options=options)
        parts, generate_s, rows_total = [], 0.0, 0
        start = time.perf_counter()
        bar = tqdm(total=size, desc=f"build {size}", unit="doc")
        for a in range(0, size, args.chunk):
            g = time.perf_counter()
            docs, sources = _chunk(args, size, a)
            generate_s += time.perf_counter() - g
            rows_total += len(docs.colbert.data) if docs.colbert is not None else 0
            index.add([f"d{a + i}" for i in range(len(docs))], docs, batch_size=500, show_progress=False)
            local = picks[(picks >= a) & (picks < a + len(docs))] - a
            if len(local):
                parts.append(_queries(args, docs, sources, local, np.random.default_rng([args.seed, size, a, 1])))
            bar.update(len(docs))
        bar.close()
        index.optimize()
        index.close()
        build_s = time.perf_counter() - start - generate_s
        disk = directory_bytes(work / "edge")
        build_rss = memory_status().get("VmHWM", 0)
        queries = _concat(parts)
        print(f"built in {build_s:.0f}s (+{generate_s:.0f}s generating), {disk / size:.0f} bytes/doc, "
              f"{rows_total / size:.0f} multi-vector rows/doc")
        # the exact answers: every chunk again, numpy brute force timed per part
        top = TopK(len(queries), tuple(m for m in modes_of(args.parts) if m != "rrf"), 10)
        seconds = {"dense": 0.0, "sparse": 0.0, "colbert": 0.0}
        for a in tqdm(range(0, size, args.chunk), desc="exact", unit="chunk"):
            docs, _ = _chunk(args, size, a)
            scores, spent = timed_exact_scores(docs, queries, top.modes)
            for part, sec in spent.items():
                seconds[part] += sec
            top.update(scores, a)
        numpy_ms = {m: sum(seconds[p] for p in MODE_PARTS[m]) / len(queries) * 1000 for m in top.modes}
        exact = {m: top.ids(m) for m in top.modes}
        with open(work / "phase.pkl", "wb") as f:
            pickle.dump({"queries": queries, "exact": exact, "numpy_ms": numpy_ms, "size": size, "disk": disk}, f)
        cmd = [sys.executable, __file__, "--search-phase", str(work), "--queries", str(args.queries),
               "--colbert-queries", str(args.colbert_queries), "--candidates", ",".join(map(str, args.candidates)),
               "--hnsw-ef", ",".join(str(e or "auto") for e in args.hnsw_ef)]
        code = subprocess.run(cmd, check=False).returncode
        rows = json.loads((work / "rows.json").read_text()) if (work / "rows.json").exists() else []
        if code != 0:  # keep what it measured before it died (e.g. killed for memory)
            print(f"the search process exited with {code} after {len(rows)} rows", flush=True)
            rows.append({"system": "m3search (qdrant-edge)", "mode": "search process died", "documents": size,
                         "exit_code": code, "p50_ms": float("nan"), "p95_ms": float("nan"), "qps": float("nan"),
                         "recall@10": None, "bytes_per_doc": None})
    finally:
        if args.keep:
            print(f"kept {work}: search it again with --search-phase {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for row in rows:
        row.update({"data": shape, "generator": args.generator, "pool_factor": args.pool_factor, "sparse_top_k": args.sparse_top_k, "storage": args.storage,
                    "dense_storage": args.dense_storage, "on_disk": args.on_disk,
                    "colbert_dim": args.colbert_dim, "preset": args.compression,
                    "fde": args.fde, "quantize": args.quantize, "hnsw": args.hnsw_build,
                    "rows_per_doc": rows_total / size, "build_s": build_s, "build_peak_rss": build_rss})
    return rows


def search_phase(work: Path, args) -> None:
    """The search half of :func:`bench_scale`, in its own process."""
    with open(work / "phase.pkl", "rb") as f:
        phase = pickle.load(f)
    allocated = allocated_bytes(work / "edge")  # closed, as the build left it
    index = Index.open(work / "edge")
    opened = memory_status()  # right after the shard opened: what opening costs

    def save(rows: list[dict]) -> None:
        status = memory_status()
        for row in rows:
            row.update({"allocated_bytes_per_doc": allocated / phase["size"],
                        "search_peak_rss": status.get("VmHWM", 0), "open_peak_rss": opened.get("VmHWM", 0),
                        "rss_anon": status.get("RssAnon", 0), "rss_file": status.get("RssFile", 0)})
        (work / "rows.json").write_text(json.dumps(rows))

    rows = search_rows(index, phase["queries"], phase["exact"], args, phase["size"], phase["numpy_ms"],
                       disk_bytes=phase["disk"], on_row=save)
    index.close()
    save(rows)
    last = rows[-1] if rows else {}
    print(f"search process: peak RSS {last.get('search_peak_rss', 0) / 2**30:.2f} GiB "
          f"(on opening {last.get('open_peak_rss', 0) / 2**30:.2f} GiB; now {last.get('rss_anon', 0) / 2**30:.2f} GiB "
          f"heap + {last.get('rss_file', 0) / 2**30:.2f} GiB mapped files)")


def _format(row: dict) -> str:
    rec = "" if row["recall@10"] is None else f"{row['recall@10']:.3f}"
    size = "" if row["bytes_per_doc"] is None else f"{row['bytes_per_doc']:.0f}"
    depth, ef = row.get("candidates", ""), row.get("hnsw_ef") or ""
    return (f"{row['documents']:>7} {row['mode']:<13}{row['system']:<24}{depth!s:>5}{ef!s:>5}{row['p50_ms']:>9.2f}"
            f"{row['p95_ms']:>9.2f}{row['qps']:>9.1f}{rec:>10}{size:>11}")


HEADER = f"{'docs':>7} {'mode':<13}{'system':<24}{'cand':>5}{'ef':>5}{'p50 ms':>9}{'p95 ms':>9}{'QPS':>9}{'recall@10':>10}{'bytes/doc':>11}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--generator", default="noise", choices=["noise", "tokens"],
                        help="synthetic documents: each part drawn on its own (noise), or all three from one token "
                             "sequence, fitted to real paragraphs (tokens; benchmarks/token_corpus.py)")
    parser.add_argument("--rows", type=int, default=None,
                        help="multi-vector rows per synthetic document (default: real-shaped, median 190)")
    parser.add_argument("--pool-factor", type=int, default=None,
                        help="the shape of a pooled index: rows divided by N (default: 1, or the preset's)")
    parser.add_argument("--sparse-top-k", type=int, default=None,
                        help="documents keep their N heaviest lexical weights (default: all, or the preset's)")
    parser.add_argument("--storage", default=None, choices=["float16", "float32", "uint8"],
                        help="multi-vector storage (default: float16, or the preset's)")
    parser.add_argument("--dense-storage", default=None, choices=["float16", "float32", "uint8"],
                        help="dense vector storage (default: float32, or the preset's)")
    parser.add_argument("--colbert-dim", type=int, default=None,
                        help=f"multi-vector width of the synthetic rows (default: {DIM}, or the preset's widest)")
    parser.add_argument("--compression", default=None, choices=["compact"],
                        help="build with the preset: its storage, graphs and width; its pooling shapes the generated rows")
    parser.add_argument("--on-disk", action="store_true", help="build the index with ShardSettings(on_disk=True)")
    parser.add_argument("--max-segment-mb", type=int, default=None,
                        help="ShardSettings(max_segment_size_kb=...): bounds the free disk the final optimisation needs")
    parser.add_argument("--parts", default="dense,sparse,colbert", help="what the index holds (dense,sparse: no multi-vectors)")
    parser.add_argument("--fde", default=None, metavar="K_SIM,DIM_PROJ,REPS",
                        help="a multi-vector first stage (MUVERA encodings under HNSW), e.g. 4,8,8")
    parser.add_argument("--quantize", default=None, metavar="NAME=METHOD,...",
                        help="the engine's quantisation, e.g. dense=int8,colbert_fde=binary (rescored, oversampling 2)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--colbert-queries", type=int, default=3, help="queries for the colbert-only mode (a full scan)")
    parser.add_argument("--candidates", default="100", help="first-stage depths per mode, comma-separated (e.g. 100,50)")
    parser.add_argument("--chunk", type=int, default=2000, help="documents generated (and held) at a time")
    parser.add_argument("--local-max", type=int, default=3000, help="largest real set to run qdrant-client local mode on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", action="store_true", help="also run on real paragraphs (encoded once, cached)")
    parser.add_argument("--real-suites", default="xquad-mono",
                        help="the suites whose corpora --real searches, comma-separated (e.g. xquad-mono,native-qa,lareqa)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--workdir", default=None, help="where indexes are built (default: the temporary directory)")
    parser.add_argument("--hnsw", dest="hnsw_build", default=None, metavar="M,EF_CONSTRUCT",
                        help="the HNSW graphs' build settings (IndexOptions(hnsw=...); default the engine's 16,100)")
    parser.add_argument("--hnsw-ef", default="auto",
                        help="HNSW beam widths of the first stages, comma-separated (auto: Searcher's default)")
    parser.add_argument("--keep", action="store_true", help="keep the built index (and its exact answers) to search again")
    parser.add_argument("--search-phase", type=Path, default=None, metavar="DIR",
                        help="only search a kept index again (prints its rows; the JSON is DIR/rows.json)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "search.json")
    add_publish_option(parser, "search")
    args = parser.parse_args()
    args.candidates = [int(c) for c in str(args.candidates).split(",") if c]
    args.hnsw_ef = [None if e == "auto" else int(e) for e in str(args.hnsw_ef).split(",") if e]
    if args.hnsw_build is not None:
        m, ef_construct = (int(v) for v in args.hnsw_build.split(","))
        args.hnsw_build = {"m": m, "ef_construct": ef_construct}
    from m3search.index.presets import PRESETS

    chosen = PRESETS[args.compression] if args.compression else None
    args.pool_factor = args.pool_factor or (chosen.compression.get("colbert_pool_factor", 1) if chosen else 1)
    args.sparse_top_k = args.sparse_top_k or (chosen.compression.get("sparse_top_k") if chosen else None)
    args.colbert_dim = args.colbert_dim or (chosen.max_colbert_dim if chosen else None) or DIM
    args.storage = args.storage or (chosen.colbert_storage if chosen else "float16")
    args.dense_storage = args.dense_storage or (chosen.dense_storage if chosen else None) or "float32"
    args.parts = tuple(p for p in args.parts.split(",") if p)
    args.real_suites = [s for s in args.real_suites.split(",") if s]
    if args.fde is not None:
        k_sim, dim_proj, reps = (int(v) for v in args.fde.split(","))
        args.fde = {"k_sim": k_sim, "dim_proj": dim_proj, "reps": reps}
    if args.quantize is not None:
        args.quantize = {"vectors": dict(item.split("=") for item in args.quantize.split(","))}
    if args.search_phase is not None:
        search_phase(args.search_phase, args)
        if args.publish:  # a kept index searched again (e.g. other beam widths)
            rows = json.loads((args.search_phase / "rows.json").read_text())
            publish({"benchmark": "search", "rows": rows, "candidates": args.candidates, "machine": platform.machine()},
                    args.publish)
        return
    rows = []
    print(HEADER)
    for size in [int(s) for s in args.sizes.split(",") if s]:
        rows.extend(bench_scale(size, args))
    if args.real:
        rows.extend(bench_real(args, np.random.default_rng(args.seed)))
    print("\n" + HEADER)
    for row in rows:
        print(_format(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "search", "rows": rows, "rows_per_doc": args.rows or "real-shaped",
              "pool_factor": args.pool_factor, "storage": args.storage,
              "candidates": args.candidates, "machine": platform.machine()}
    args.out.write_text(json.dumps(result, indent=2))
    publish(result, args.publish)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
