"""Search latency, throughput, recall and size: m3search (qdrant-edge) against brute-force numpy
and qdrant-client's local mode, side by side on the same data and queries.

Data: synthetic vectors shaped like the offline model's output (dense 384-d; sparse ~60 token
ids from a 250k vocabulary, Zipf-distributed; multi-vector ``--colbert-tokens`` rows of 384-d),
with queries made from perturbed documents so that each has true neighbours. For every mode:
p50/p95 latency of one query at a time, QPS (1 / mean latency), recall@10 against exact brute
force of the same mode, and bytes per document on disk. Prints a table and writes JSON.

    .venv/bin/python benchmarks/search.py --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from m3search.index import Index
from m3search.scoring import DEFAULT_WEIGHTS, colbert_scores, combine, dense_scores, sparse_scores
from m3search.search import Searcher
from m3search.types import Embeddings, Ragged, SparseBatch, SparseVector

ROOT = Path(__file__).resolve().parents[1]
DIM, VOCAB = 384, 250_002
MODES = ("dense", "sparse", "dense+sparse", "all", "rrf", "colbert")
IDENTITY = {"name": "synthetic-e5-small-shape", "dim": DIM, "colbert_dim": DIM, "parts": ["dense", "sparse", "colbert"],
            "config_hash": "synthetic", "vocab_size": VOCAB, "heads": "synthetic"}


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synthetic_docs(n: int, tokens: int, rng: np.random.Generator) -> Embeddings:
    centres = _normalise(rng.normal(size=(64, DIM)))  # topical clusters, like real text
    # a document is its topic's centre plus its own direction (norm ~1): cosines between documents of
    # one topic land near 0.5 and across topics near 0, a spread like real text embeddings'
    dense = _normalise(centres[rng.integers(0, 64, n)] + rng.normal(size=(n, DIM)) / np.sqrt(DIM))
    vectors = []
    for _ in range(n):
        ids = np.unique(np.minimum(rng.zipf(1.3, 60) + rng.integers(0, 2000), VOCAB - 1))
        vectors.append(SparseVector(ids.astype(np.int64), rng.uniform(0.01, 0.3, len(ids)).astype(np.float32)))
    # multi-vectors in float16 (what the index stores), generated in chunks to bound memory
    colbert = np.empty((n * tokens, DIM), dtype=np.float16)
    for a in range(0, n, 5000):
        b = min(a + 5000, n)
        noise = rng.standard_normal(size=(b - a, tokens, DIM), dtype=np.float32) / np.sqrt(DIM) * 1.5
        colbert[a * tokens : b * tokens] = _normalise(dense[a:b, None, :] + noise).reshape(-1, DIM)
    offsets = np.arange(0, n * tokens + 1, tokens, dtype=np.int64)
    return Embeddings(dense=dense, sparse=SparseBatch.from_vectors(vectors), colbert=Ragged(colbert, offsets))


def synthetic_queries(docs: Embeddings, n: int, rng: np.random.Generator) -> Embeddings:
    picks = rng.integers(0, len(docs), n)
    # a query is a perturbed document (noise norm 0.7): its source is usually, not always, the best match
    dense = _normalise(docs.dense[picks] + rng.normal(size=(n, DIM)).astype(np.float32) / np.sqrt(DIM) * 0.7)
    sparse, colbert = [], []
    for j in picks:
        v = docs.sparse[int(j)]
        keep = np.sort(rng.choice(len(v), size=min(8, len(v)), replace=False))
        sparse.append(SparseVector(v.ids[keep], v.weights[keep]))
        rows = docs.colbert[int(j)][:12].astype(np.float32)
        colbert.append(_normalise(rows + rng.normal(size=rows.shape).astype(np.float32) / np.sqrt(DIM) * 0.7))
    return Embeddings(dense=dense, sparse=SparseBatch.from_vectors(sparse), colbert=Ragged.from_arrays(colbert))


def brute_force(docs: Embeddings, queries: Embeddings, mode: str, k: int) -> list[list[int]]:
    """Exact top-k doc indices of each query for one mode, in numpy."""
    scores = {}
    if mode in ("dense", "dense+sparse", "all"):
        scores["dense"] = dense_scores(queries.dense, docs.dense)
    if mode in ("sparse", "dense+sparse", "all"):
        scores["sparse"] = sparse_scores(queries.sparse, docs.sparse)
    if mode in ("colbert", "all"):
        chunks = range(0, len(docs), 5000)  # bounded memory
        scores["colbert"] = np.concatenate(
            [colbert_scores(queries.colbert, docs.colbert.take(range(a, min(a + 5000, len(docs))))) for a in chunks], axis=1)
    final = scores[mode] if mode in scores else combine(scores, DEFAULT_WEIGHTS)
    return [list(np.argsort(-row, kind="stable")[:k]) for row in final]


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


def real_xquad(data_dir: Path, n_queries: int, rng: np.random.Generator) -> tuple[Embeddings, Embeddings, dict]:
    """The 2,880 XQuAD paragraphs (12 languages) and a sample of their questions, encoded by the
    offline model with its shipped (trained) heads; cached with ``m3search eval``'s encodings."""
    from m3search.encode import Encoder, cache_dir
    from m3search.eval.beir import read_beir
    from m3search.eval.runner import cached_encode, file_hash
    from m3search.eval.suites import build_suite

    encoder = Encoder.load("multilingual-e5-small")
    docs, queries = [], []
    for subset in build_suite("xquad-mono", data_dir, cache_dir() / "suites"):
        data = read_beir(subset.path)
        docs.append(cached_encode(encoder, [d.text for d in data.corpus], "document", ("dense", "sparse", "colbert"),
                                   cache_dir(), file_hash(subset.path / "corpus.jsonl"), [d.id for d in data.corpus]))
        queries.append(cached_encode(encoder, [q.text for q in data.queries], "query", ("dense", "sparse", "colbert"),
                                      cache_dir(), file_hash(subset.path / "queries.jsonl"), [q.id for q in data.queries]))
    pick = rng.choice(sum(len(q) for q in queries), size=n_queries, replace=False)
    return _concat(docs), _concat(queries).take(sorted(pick)), dict(encoder.identity)


def _concat(batches: list[Embeddings]) -> Embeddings:
    return Embeddings(
        dense=np.concatenate([b.dense for b in batches]),
        sparse=SparseBatch.from_vectors([v for b in batches for v in b.sparse]),
        colbert=Ragged.from_arrays([m for b in batches for m in b.colbert]),
    )


def bench_size(size: int, args, rng, real: bool = False) -> list[dict]:
    print(f"\n== {'real XQuAD paragraphs' if real else f'{size} synthetic documents'} ==")
    identity = IDENTITY
    if real:
        docs, queries, identity = real_xquad(args.data, args.queries, rng)
        size = len(docs)
    else:
        docs = synthetic_docs(size, args.colbert_tokens, rng)
        queries = synthetic_queries(docs, args.queries, rng)
    ids = [f"d{i}" for i in range(size)]
    rows = []
    work = Path(tempfile.mkdtemp(prefix="m3search-bench-"))
    try:
        index = Index.create(work / "edge", identity)
        start = time.perf_counter()
        index.add(ids, docs, batch_size=500, show_progress=True)
        index.optimize()
        build_s = time.perf_counter() - start
        disk = index.disk_bytes() / size
        print(f"built in {build_s:.1f}s, {disk:.0f} bytes/doc")
        searcher = Searcher(None, index, candidates=args.candidates)
        backends = [("m3search (qdrant-edge)", searcher, disk)]
        if size <= args.local_max:
            from qdrant_client import QdrantClient

            from m3search.index import QdrantClientBackend

            local = Index.create(QdrantClientBackend(QdrantClient(":memory:"), "bench"), identity)
            local.add(ids, docs, batch_size=500, show_progress=True)
            backends.append(("qdrant-client local", Searcher(None, local, candidates=args.candidates), None))
        for mode in MODES:
            limit = args.colbert_queries if mode == "colbert" else args.queries
            exact = None
            if mode != "rrf":
                start = time.perf_counter()
                exact = brute_force(docs, queries.take(range(limit)), mode, 10)
                numpy_lat = (time.perf_counter() - start) / limit
                rows.append(summarise("numpy brute force", mode, size, [numpy_lat] * limit, 1.0, None))
            for name, searcher_, disk_bytes in backends:
                latencies, results = time_queries(
                    lambda q, s=searcher_, m=mode: s.search_embeddings(q, 10, mode=m, fetch_documents=False),
                    queries, limit)
                found = [[h.id for h in r[0]] for r in results]
                rows.append(summarise(name, mode, size, latencies, recall(found, exact, 10) if exact else None, disk_bytes))
                rows[-1]["data"] = "xquad" if real else "synthetic"
            for row in rows[-(len(backends) + (mode != "rrf")):]:
                print(_format(row))
        index.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def _format(row: dict) -> str:
    rec = "" if row["recall@10"] is None else f"{row['recall@10']:.3f}"
    size = "" if row["bytes_per_doc"] is None else f"{row['bytes_per_doc']:.0f}"
    return (f"{row['documents']:>7} {row['mode']:<13}{row['system']:<24}{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}"
            f"{row['qps']:>9.1f}{rec:>10}{size:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--colbert-queries", type=int, default=10, help="queries for the colbert-only mode (a full scan)")
    parser.add_argument("--colbert-tokens", type=int, default=32, help="multi-vector rows per synthetic document")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--local-max", type=int, default=10000, help="largest size to run qdrant-client local mode on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", action="store_true", help="also run on the real XQuAD paragraphs (encoded once, cached)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "search.json")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    header = f"{'docs':>7} {'mode':<13}{'system':<24}{'p50 ms':>9}{'p95 ms':>9}{'QPS':>9}{'recall@10':>10}{'bytes/doc':>11}"
    print(header)
    for size in [int(s) for s in args.sizes.split(",") if s]:
        rows.extend(bench_size(size, args, rng))
    if args.real:
        rows.extend(bench_size(0, args, rng, real=True))
    print("\n" + header)
    for row in rows:
        print(_format(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "search", "rows": rows, "colbert_tokens": args.colbert_tokens,
                                    "candidates": args.candidates, "machine": platform.machine()}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
