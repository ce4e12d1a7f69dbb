"""The shipped sparse head with an IDF prior from the training mix: how much of its gap to BM25
over the same tokens an inverse document frequency closes, without retraining.

The offline model's sparse head gives nearly flat weights (0.10 to 0.21 for nine in ten of a
paragraph's tokens): it knows which tokens of a text matter in context, but not which tokens
are rare. This multiplies every weight of token ``t`` (queries and documents) by
``(idf(t) / mean idf) ** alpha``, with BM25's ``idf`` counted over the unique passages of the
whole training mix (``m3search data build-train`` without a per-source cap; never an
evaluation split), so a match scores ``w_q w_d (idf / mean)^(2 alpha)``. ``alpha = 0`` is the
shipped head.

``--bm25-shaped B`` adds rows whose document weights also take BM25's term-frequency
saturation and length normalisation, ``tf (k1 + 1) / (tf + k1 (1 - B + B dl / avgdl))`` with
``k1 = 1.2``, ``tf`` the token's count in the document, ``dl`` its tokens and ``avgdl`` the
corpus's mean: what the head's weights lack that BM25 has, besides the idf. Prints a table,
writes JSON::

    .venv/bin/python benchmarks/sparse_prior.py --bm25-shaped 0.75 --publish
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
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


def with_prior(cached_encode, prior: np.ndarray, tokenize=None, b: float | None = None, k1: float = 1.2):
    """``cached_encode`` whose sparse weights are multiplied by ``prior[token id]``, and with ``b``
    each document's by BM25's saturation of the token's count and the document's length."""
    from m3search.types import SparseBatch, SparseVector

    def encode(encoder, texts, role, *args, **kwargs):
        e = cached_encode(encoder, texts, role, *args, **kwargs)
        if e.sparse is None:
            return e
        factors = [np.ones(len(v.ids)) for v in e.sparse]
        if b is not None and role == "document":
            if tokenize is None:
                raise ValueError("with_prior: b needs tokenize, the documents' token ids")
            tokens = tokenize(texts)
            avgdl = float(np.mean([len(t) for t in tokens]))
            for i, (v, t) in enumerate(zip(e.sparse, tokens)):
                counts = Counter(int(x) for x in t)
                tf = np.array([counts.get(int(j), 1) for j in v.ids], dtype=np.float64)
                factors[i] = tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(t) / avgdl))
        weighted = [SparseVector(v.ids, (v.weights * prior[v.ids] * f).astype(np.float32))
                    for v, f in zip(e.sparse, factors)]
        return replace(e, sparse=SparseBatch.from_vectors(weighted))

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alphas", default="0,0.5,1")
    parser.add_argument("--suites", default="native-qa,xquad-mono")
    parser.add_argument("--bm25-shaped", type=float, default=None, metavar="B",
                        help="also each alpha with BM25's tf saturation and length normalisation (b = B, k1 = 1.2)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sparse_prior.json")
    add_publish_option(parser, "sparse-prior")
    args = parser.parse_args()
    if args.bm25_shaped is not None and not 0 <= args.bm25_shaped <= 1:
        parser.error(f"--bm25-shaped is BM25's b, in [0, 1]; got {args.bm25_shaped}")
    from m3search.encode import Encoder
    from m3search.encode.checkpoints.cache import cache_dir
    from m3search.eval import runner

    encoder = Encoder.load("multilingual-e5-small")
    idf, passages = training_idf(encoder, args.data)

    special = {int(i) for i in encoder.tokenizer.special_ids}

    def tokenize(texts):  # the document's tokens as the encoder sees them (prefix, truncation), no specials
        return [[t for t in ids if t not in special] for ids in encoder.tokenize(texts, role="document")]
    plain = runner.cached_encode
    rows = []
    for suite in args.suites.split(","):
        shapes = [None] if args.bm25_shaped is None else [None, args.bm25_shaped]
        for i, (alpha, b) in enumerate([(float(a), b) for b in shapes for a in args.alphas.split(",")]):
            runner.cached_encode = with_prior(plain, (idf / idf.mean()) ** alpha, tokenize, b)
            try:
                result = runner.run_suite(suite, encoder, data_dir=args.data, cache=cache_dir(), modes=["sparse"],
                                          baseline=["bm25-tokens"] if i == 0 else None)
            finally:
                runner.cached_encode = plain
            metric = result.metrics[0]
            averages = {row: float(np.mean([s[metric] for s in subsets.values()])) for row, subsets in result.scores.items()}
            if "bm25-tokens" in averages:
                bm25 = averages["bm25-tokens"]
            rows.append({"suite": suite, "alpha": alpha, "bm25_b": b, "metric": metric, "sparse": averages["sparse"],
                         "bm25_tokens": bm25})
            print(f"{suite:<11} alpha {alpha:<4} b {b}  sparse {averages['sparse']:.4f}  bm25-tokens {bm25:.4f}", flush=True)
    result_json = {"benchmark": "sparse_prior", "model": "multilingual-e5-small", "idf_passages": passages, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result_json, indent=2))
    publish(result_json, args.publish)


if __name__ == "__main__":
    main()
