"""Encoding throughput: m3search against FlagEmbedding's M3Embedder, side by side in one run.

Same checkpoint (the offline multilingual-e5-small with M3 heads attached: random, seed 0,
until trained heads ship), same texts (XQuAD paragraphs in several languages), CPU, all three
outputs (dense, sparse, multi-vector). Reports documents/s and tokens/s and the ratio, prints
a table and writes JSON beside it. The two systems are timed alternately, ``--repeats`` times,
and the median is kept: the machines are shared, so compare ratios, not absolute times.

FlagEmbedding needs transformers<5, so run it from the reference environment::

    .venv-ref/bin/pip install -e .            # m3search into the reference env
    .venv-ref/bin/python benchmarks/encode.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
LANGS = ["en", "de", "es", "ru", "zh", "ar", "hi", "th", "el", "tr", "vi", "ro"]


def xquad_paragraphs(data_dir: Path, langs: list[str], per_language: int) -> list[str]:
    texts = []
    for lang in langs:
        squad = json.loads((data_dir / "raw" / "xquad" / f"xquad.{lang}.json").read_text())
        paragraphs = [p["context"] for a in squad["data"] for p in a["paragraphs"]]
        texts.extend(paragraphs[:per_language])
    return texts


def build_checkpoint(target: Path) -> object:
    """e5-small with seeded random M3 heads, saved in the BGE-M3 layout both systems read."""
    from m3search.encode import Encoder

    encoder = Encoder.load("multilingual-e5-small", device="cpu").add_heads(seed=0)
    encoder.save(target)
    (target / "m3search.json").unlink()  # leave the plain BGE-M3 layout; prefixes are added by hand below
    return encoder


def time_m3search(encoder, texts: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    encoder.encode(texts, parts="all", batch_size=batch_size, show_progress=False)
    return time.perf_counter() - start


def time_flagembedding(model, texts: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    model.encode(texts, batch_size=batch_size, max_length=512, return_dense=True, return_sparse=True, return_colbert_vecs=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--per-language", type=int, default=20, help="XQuAD paragraphs per language")
    parser.add_argument("--langs", default=",".join(LANGS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="m3search batch size")
    parser.add_argument("--flag-batch-sizes", default="256,64",
                        help="FlagEmbedding batch sizes to time (256 is its default; 64 equals m3search's)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "encode.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from FlagEmbedding import BGEM3FlagModel

    texts = xquad_paragraphs(args.data, args.langs.split(","), args.per_language)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "e5-small-m3"
        ours = build_checkpoint(checkpoint)
        reference = BGEM3FlagModel(str(checkpoint), use_fp16=False, devices="cpu", pooling_method="mean",
                                   normalize_embeddings=True)
        prefixed = ["passage: " + t for t in texts]
        tokens = sum(len(ids) for ids in ours.tokenize(texts))

        # parity on this real checkpoint, before timing
        a = ours.encode(texts[:32], parts="all", show_progress=False)
        b = reference.encode(prefixed[:32], max_length=512, return_dense=True, return_sparse=True, return_colbert_vecs=True)
        dense_diff = float(np.abs(a.dense - b["dense_vecs"]).max())
        colbert_diff = max(float(np.abs(x - y).max()) for x, y in zip(a.colbert, b["colbert_vecs"]))

        flag_sizes = [int(b) for b in args.flag_batch_sizes.split(",")]
        time_m3search(ours, texts[:16], args.batch_size)  # warm-up both
        time_flagembedding(reference, prefixed[:16], flag_sizes[0])
        times: dict[str, list[float]] = {f"m3search (batch {args.batch_size})": []}
        times.update({f"FlagEmbedding (batch {b})": [] for b in flag_sizes})
        for _ in range(args.repeats):
            times[f"m3search (batch {args.batch_size})"].append(time_m3search(ours, texts, args.batch_size))
            for b in flag_sizes:
                times[f"FlagEmbedding (batch {b})"].append(time_flagembedding(reference, prefixed, b))

    rows = []
    for system, samples in times.items():
        median = statistics.median(samples)
        rows.append({"system": system, "seconds": median, "docs_per_s": len(texts) / median, "tokens_per_s": tokens / median})
    for row in rows:
        row["m3search_speedup"] = rows[0]["docs_per_s"] / row["docs_per_s"]
    result = {
        "benchmark": "encode", "model": "multilingual-e5-small + random M3 heads (seed 0)", "parts": "dense+sparse+colbert",
        "documents": len(texts), "tokens": tokens, "languages": args.langs.split(","), "threads": args.threads,
        "repeats": args.repeats, "rows": rows,
        "parity_max_abs_diff": {"dense": dense_diff, "colbert": colbert_diff},
        "torch": torch.__version__, "machine": platform.machine(), "processor": platform.processor(),
    }
    print(f"\n{len(texts)} XQuAD paragraphs in {len(args.langs.split(','))} languages, {tokens} tokens, "
          f"{args.threads} threads, all three outputs, median of {args.repeats}")
    print(f"{'system':<28}{'seconds':>9}{'docs/s':>9}{'tokens/s':>10}{'m3search speed-up':>19}")
    for row in rows:
        print(f"{row['system']:<28}{row['seconds']:>9.2f}{row['docs_per_s']:>9.1f}{row['tokens_per_s']:>10.0f}"
              f"{row['m3search_speedup']:>18.2f}x")
    print(f"parity on this checkpoint, max abs diff: dense {dense_diff:.1e}, colbert {colbert_diff:.1e}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
