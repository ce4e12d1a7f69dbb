"""What token pooling and sparse pruning cost in quality, and what they save in bytes.

For each setting (multi-vector pool factor, sparse top-k), ``m3search eval`` on real suites with
the offline model (documents reduced as an index built with the setting stores them), nDCG@10
averaged over the subsets, next to the unreduced row; and, on the real XQuAD paragraphs, the
bytes per document each storage choice takes: the multi-vector rows as stored (float16 or uint8,
pooled or not), the lexical weights kept, and the whole index on disk. Prints tables, writes JSON::

    .venv/bin/python benchmarks/compression.py --suites xquad-mono,native-qa --pool-factors 2,3 --top-k 64,32
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from publish import add_publish_option, publish  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]


def quality(args, encoder) -> list[dict]:
    from m3search.encode.checkpoints.cache import cache_dir
    from m3search.eval.runner import run_suite

    settings: list[tuple[str, dict, list[str]]] = [] if args.skip_unreduced else [
        ("none", {}, ["sparse", "colbert", "dense+sparse", "all"])]
    settings += [(f"pool {p}", {"colbert_pool_factor": p}, ["colbert", "all"]) for p in args.pool_factors]
    settings += [(f"top-{k}", {"sparse_top_k": k}, ["sparse", "dense+sparse", "all"]) for k in args.top_k]
    rows = []
    for suite in args.suites:
        for name, compression, modes in settings:
            start = time.perf_counter()
            result = run_suite(suite, encoder, data_dir=args.data, cache=cache_dir(), modes=modes,
                               compression=compression or None)
            row = {"suite": suite, "setting": name, "compression": compression, "seconds": time.perf_counter() - start}
            for mode in modes:
                per_subset = [m["nDCG@10"] for m in result.scores[mode].values()]
                row[mode] = float(np.mean(per_subset))
            rows.append(row)
            print(f"{suite:<11} {name:<8} " + "  ".join(f"{m} {row[m]:.4f}" for m in modes), flush=True)
    return rows


def sizes(args, encoder) -> list[dict]:
    """Bytes per real XQuAD paragraph for each storage choice, and the index each makes on disk."""
    from m3search.encode.checkpoints.cache import cache_dir
    from m3search.eval.beir import read_beir
    from m3search.eval.runner import cached_encode, file_hash
    from m3search.eval.suites import build_suite
    from m3search.index import Index
    from m3search.index.codecs import CURRENT_CODEC, extra_dims
    from m3search.index.pooling import compress

    docs, ids = [], []
    for subset in build_suite("xquad-mono", args.data, cache_dir() / "suites"):
        data = read_beir(subset.path)
        docs.append(cached_encode(encoder, [d.text for d in data.corpus], "document", ("dense", "sparse", "colbert"),
                                  cache_dir(), file_hash(subset.path / "corpus.jsonl"), [d.id for d in data.corpus]))
        ids += [f"{subset.name}/{d.id}" for d in data.corpus]
    from m3search.types import Embeddings, Ragged, SparseBatch

    full = Embeddings(dense=np.concatenate([d.dense for d in docs]),
                      sparse=SparseBatch.from_vectors([v for d in docs for v in d.sparse]),
                      colbert=Ragged.from_arrays([m for d in docs for m in d.colbert]))
    n, dim = len(full), full.colbert.dim
    rows = []
    choices = [(storage, pool, top_k) for pool in [1, *args.pool_factors] for storage in ("float16", "uint8")
               for top_k in [None]] + [("float16", 1, k) for k in args.top_k]
    for storage, pool, top_k in choices:
        reduced = compress(full, pool_factor=pool, top_k=top_k)
        row_bytes = dim * 2 if storage == "float16" else dim + extra_dims(dim, CURRENT_CODEC)  # uint8 codes + compensation bytes
        multi = len(reduced.colbert.data) * row_bytes / n
        lexical = sum(len(v) for v in reduced.sparse) * 8 / n  # a 4-byte id and a 4-byte weight
        work = Path(tempfile.mkdtemp(prefix="m3search-size-"))
        try:
            index = Index.create(work / "idx", encoder.identity, colbert_storage=storage,
                                 compression={k: v for k, v in {"colbert_pool_factor": pool, "sparse_top_k": top_k}.items()
                                              if v not in (None, 1)} or None)
            index.add(ids, reduced, batch_size=256, show_progress=False)
            index.optimize()
            index.close()  # measured closed: an open shard may still hold the segments optimisation replaced
            disk = sum(f.stat().st_size for f in (work / "idx").rglob("*") if f.is_file()) / n
        finally:
            shutil.rmtree(work, ignore_errors=True)
        row = {"storage": storage, "pool_factor": pool, "sparse_top_k": top_k, "rows_per_doc": len(reduced.colbert.data) / n,
               "multivector_bytes": multi, "sparse_bytes": lexical, "dense_bytes": full.dense.shape[1] * 4,
               "disk_bytes": disk, "documents": n}
        rows.append(row)
        print(f"{storage:<8} pool {pool}  top-k {top_k!s:<5} rows/doc {row['rows_per_doc']:6.1f}  multi-vector "
              f"{multi / 1024:6.1f} KB  lexical {lexical / 1024:5.2f} KB  index on disk {disk / 1024:6.1f} KB", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", default="xquad-mono,native-qa")
    parser.add_argument("--pool-factors", default="2,3")
    parser.add_argument("--top-k", default="64,32")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-sizes", action="store_true")
    parser.add_argument("--skip-unreduced", action="store_true",
                        help="no unreduced row (the same numbers as `m3search eval` without the flags)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "compression.json")
    add_publish_option(parser, "compression")
    args = parser.parse_args()
    args.suites = [s for s in args.suites.split(",") if s]
    args.pool_factors = [int(p) for p in args.pool_factors.split(",") if p]
    args.top_k = [int(k) for k in args.top_k.split(",") if k]

    from m3search.encode import Encoder

    encoder = Encoder.load("multilingual-e5-small")
    size_rows = [] if args.skip_sizes else sizes(args, encoder)
    quality_rows = [] if args.skip_quality else quality(args, encoder)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "compression", "quality": quality_rows, "sizes": size_rows}
    args.out.write_text(json.dumps(result, indent=2))
    publish(result, args.publish)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
