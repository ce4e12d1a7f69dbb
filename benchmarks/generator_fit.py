"""How close the synthetic generators stand to real paragraphs: score distributions and what the
dense and sparse first stages find of ``colbert``'s and ``all``'s exact top 10, for the real
paragraphs of ``--real-suites`` (encoded by the compact model, stored as the compact preset
stores them) and for as many synthetic documents of each generator (``benchmarks/search.py
--generator noise|tokens``). Everything is exact numpy scoring: no index, so the numbers are
the generators' own, not an engine's.

    .venv/bin/python benchmarks/generator_fit.py --publish generator-fit

``benchmarks/token_corpus.py``'s constants were chosen by reading this table.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np
from publish import add_publish_option, write_result  # benchmarks/publish.py
from search import ROOT, exact_scores, real_corpus, synthetic_docs, synthetic_queries
from token_corpus import token_docs, token_queries

from m3search.scoring import DEFAULT_WEIGHTS, combine
from m3search.types import Embeddings

DEPTHS = (50, 100)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argpartition(-scores, k, axis=1)[:, :k]


def _kept(scores: np.ndarray, candidates: list[np.ndarray], exact: np.ndarray) -> float:
    """The share of each query's exact top 10 that rescoring its candidates finds."""
    found = [len(set(c[np.argsort(-row[c])[:10]]) & set(e)) / 10 for row, c, e in zip(scores, candidates, exact)]
    return float(np.mean(found))


def fit_stats(docs: Embeddings, queries: Embeddings) -> dict[str, float]:
    """Score quantiles per part, the overlap of the top 10s, and what ``colbert`` and ``all``
    keep of their exact top 10 when they rescore the dense and sparse top ``k`` (50, 100)."""
    parts = exact_scores(docs, queries, ("dense", "sparse", "colbert"))
    parts["all"] = combine(dict(parts), DEFAULT_WEIGHTS)
    out: dict[str, float] = {}
    for part in ("dense", "sparse", "colbert"):
        ranked = -np.sort(-parts[part], axis=1)
        for name, column in (("top1", 0), ("top10", 9), ("top100", 99)):
            out[f"{part} {name}"] = float(ranked[:, column].mean())
        out[f"{part} median"] = float(np.median(parts[part], axis=1).mean())
    top10 = {p: _top(parts[p], 10) for p in ("dense", "sparse", "colbert", "all")}
    for part in ("dense", "sparse"):
        out[f"{part} top 10 in colbert's"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in
                                                          zip(top10[part], top10["colbert"])]))
    for k in DEPTHS:
        candidates = [np.union1d(d, s) for d, s in zip(_top(parts["dense"], k), _top(parts["sparse"], k))]
        for mode in ("colbert", "all"):
            out[f"{mode} recall@10, dense+sparse {k}"] = _kept(parts[mode], candidates, top10[mode])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-suites", default="xquad-mono,native-qa,lareqa")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "generator-fit.json")
    add_publish_option(parser, "generator-fit")
    args = parser.parse_args()
    args.compression, args.real_suites = "compact", [s for s in args.real_suites.split(",") if s]
    from m3search.eval.runner import as_stored
    from m3search.index import IndexOptions
    from m3search.index.pooling import compress, compress_options

    options = IndexOptions(compression="compact")
    docs, queries, _, _ = real_corpus(args, np.random.default_rng(args.seed))
    docs = as_stored(compress(docs, **compress_options(options.reductions)), options.colbert_storage or "float16",
                     options.dense_storage or "float32")
    n, width, pool = len(docs), int(docs.colbert.dim), int(options.reductions.get("colbert_pool_factor", 1))
    columns = {"real paragraphs": fit_stats(docs, queries)}
    rng = np.random.default_rng(args.seed)
    picks = np.sort(rng.choice(n, args.queries, replace=False))
    synthetic, sources = token_docs(n, rng, pool, width)
    columns["tokens generator"] = fit_stats(synthetic, token_queries(sources, picks, rng))
    synthetic = synthetic_docs(n, None, rng, pool, colbert_dim=width)
    columns["noise generator"] = fit_stats(synthetic, synthetic_queries(synthetic, picks, rng))
    names = list(columns)
    print(f"{'statistic':44}" + "".join(f"{c:>18}" for c in names))
    for stat in columns[names[0]]:
        print(f"{stat:44}" + "".join(f"{columns[c][stat]:18.3f}" for c in names))
    result = {"benchmark": "generator-fit", "documents": n, "queries": args.queries, "colbert_dim": width,
              "pool_factor": pool, "suites": args.real_suites, "columns": columns, "machine": platform.machine()}
    write_result(result, args.out, args.publish)


if __name__ == "__main__":
    main()
