"""The shipped sparse head with an IDF prior from the training mix: how much of its gap to BM25
over the same tokens an inverse document frequency closes, without retraining.

The offline model's sparse head gives nearly flat weights (0.10 to 0.21 for nine in ten of a
paragraph's tokens): it knows which tokens of a text matter in context, but not which tokens
are rare. This multiplies every weight of token ``t`` (queries and documents) by
``(idf(t) / mean idf) ** alpha``, with BM25's ``idf`` counted over the unique passages of the
whole training mix (``m3search data build-train`` without a per-source cap; never an
evaluation split), so a match scores ``w_q w_d (idf / mean)^(2 alpha)``. ``alpha = 0`` is the
shipped head. Prints a table, writes JSON::

    .venv/bin/python benchmarks/sparse_prior.py --publish
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from publish import add_publish_option, publish  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]


def training_idf(encoder, data: Path) -> tuple[np.ndarray, int]:
    """BM25's idf of every token id over the unique passages of the whole training mix."""
    with tempfile.TemporaryDirectory() as tmp:
        mix = Path(tmp) / "mix.jsonl"
        subprocess.run([sys.executable, "-m", "m3search", "data", "build-train", "--data", str(data), "-o", str(mix),
                        "--sib-sentences", "100", "--seed", "0"], check=True, capture_output=True)
        passages = sorted({p for line in mix.read_text().splitlines() for p in json.loads(line)["pos"]})
    from m3search.encode.sparse_prior import idf

    return idf(encoder.tokenizer.encode(passages, max_length=512), len(encoder.tokenizer))


def with_prior(cached_encode, prior: np.ndarray):
    """``cached_encode`` whose sparse weights are multiplied by ``prior[token id]``."""
    from m3search.types import SparseBatch, SparseVector

    def encode(*args, **kwargs):
        e = cached_encode(*args, **kwargs)
        if e.sparse is None:
            return e
        weighted = [SparseVector(v.ids, (v.weights * prior[v.ids]).astype(np.float32)) for v in e.sparse]
        return replace(e, sparse=SparseBatch.from_vectors(weighted))

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alphas", default="0,0.5,1")
    parser.add_argument("--suites", default="native-qa,xquad-mono")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sparse_prior.json")
    add_publish_option(parser, "sparse-prior")
    args = parser.parse_args()
    from m3search.encode import Encoder
    from m3search.encode.checkpoints.cache import cache_dir
    from m3search.eval import runner

    encoder = Encoder.load("multilingual-e5-small")
    idf, passages = training_idf(encoder, args.data)
    plain = runner.cached_encode
    rows = []
    for suite in args.suites.split(","):
        for i, alpha in enumerate(float(a) for a in args.alphas.split(",")):
            runner.cached_encode = with_prior(plain, (idf / idf.mean()) ** alpha)
            try:
                result = runner.run_suite(suite, encoder, data_dir=args.data, cache=cache_dir(), modes=["sparse"],
                                          baseline=["bm25-tokens"] if i == 0 else None)
            finally:
                runner.cached_encode = plain
            metric = result.metrics[0]
            averages = {row: float(np.mean([s[metric] for s in subsets.values()])) for row, subsets in result.scores.items()}
            if "bm25-tokens" in averages:
                bm25 = averages["bm25-tokens"]
            rows.append({"suite": suite, "alpha": alpha, "metric": metric, "sparse": averages["sparse"], "bm25_tokens": bm25})
            print(f"{suite:<11} alpha {alpha:<4} sparse {averages['sparse']:.4f}  bm25-tokens {bm25:.4f}", flush=True)
    result_json = {"benchmark": "sparse_prior", "model": "multilingual-e5-small", "idf_passages": passages, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result_json, indent=2))
    publish(result_json, args.publish)


if __name__ == "__main__":
    main()
