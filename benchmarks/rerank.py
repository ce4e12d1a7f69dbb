"""What a cross-encoder rerank stage costs per query, by depth, on this machine.

For each model and depth N, the time to score one query against N passages with
:class:`m3search.CrossEncoder` (torch, float32): real XQuAD questions and paragraphs (English),
p50 / p95 over ``--queries`` queries, one query at a time. Models: the tiny test cross-encoder
and a randomly initialised model of bge-reranker-v2-m3's shape (XLM-R large: 24 layers, hidden
1024, 568M parameters; its weights are random, its cost is the real one's), built once into the
cache. Prints a table, writes JSON::

    .venv/bin/python benchmarks/rerank.py --publish
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from publish import add_publish_option, write_result  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]


def bge_reranker_shaped(target: Path, layers: int) -> Path:
    """A random XLM-R sequence classifier of bge-reranker-v2-m3's shape (``layers`` deep) with the
    offline model's XLM-R tokenizer (250,002 pieces)."""
    if (target / "model.safetensors").is_file():
        return target
    import shutil

    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    from m3search.encode.checkpoints.hub import resolve

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=250_002, hidden_size=1024, num_hidden_layers=layers, num_attention_heads=16,
                              intermediate_size=4096, max_position_embeddings=8194, type_vocab_size=1, num_labels=1,
                              pad_token_id=1, bos_token_id=0, eos_token_id=2)
    XLMRobertaForSequenceClassification(config).save_pretrained(target, safe_serialization=True)
    source = resolve("multilingual-e5-small")
    shutil.copy(source / "tokenizer.json", target / "tokenizer.json")
    tokenizer_config = json.loads((source / "tokenizer_config.json").read_text())
    (target / "tokenizer_config.json").write_text(json.dumps({**tokenizer_config, "tokenizer_class": "XLMRobertaTokenizerFast"}))
    return target


def xquad_english(data: Path) -> tuple[list[str], list[str]]:
    from m3search.encode.checkpoints.cache import cache_dir
    from m3search.eval.beir import read_beir
    from m3search.eval.suites import build_suite

    subset = next(s for s in build_suite("xquad-mono", data, cache_dir() / "suites") if s.name == "en")
    beir = read_beir(subset.path)
    return [q.text for q in beir.queries], [d.text for d in beir.corpus]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="10,50,100")
    parser.add_argument("--queries", type=int, default=5, help="queries timed per model and depth")
    parser.add_argument("--layers", type=int, default=24, help="depth of the bge-reranker-shaped model (24 as the real one)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "rerank.json")
    add_publish_option(parser, "rerank")
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",") if d]

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from m3search import CrossEncoder
    from m3search.encode.checkpoints.cache import cache_dir

    shaped = bge_reranker_shaped(cache_dir() / "bench-models" / f"bge-reranker-shaped-{args.layers}", args.layers)
    models = {"tiny (test fixture)": ROOT / "tests" / "fixtures" / "tiny-reranker",
              f"bge-reranker-v2-m3 shape, {args.layers} layers, random weights": shaped}
    queries, passages = xquad_english(args.data)
    rng = np.random.default_rng(0)
    rows = []
    for label, path in models.items():
        reranker = CrossEncoder.load(path, device="cpu")
        reranker.score([(queries[0], passages[0])])  # warm up
        for depth in depths:
            times = []
            for q in rng.choice(len(queries), args.queries, replace=False):
                picked = [passages[int(i)] for i in rng.choice(len(passages), depth, replace=False)]
                start = time.perf_counter()
                reranker.score([(queries[int(q)], p) for p in picked], max_length=args.max_length)
                times.append((time.perf_counter() - start) * 1000)
            row = {"model": label, "depth": depth, "p50_ms": statistics.median(times),
                   "p95_ms": float(np.percentile(times, 95)), "queries": args.queries, "threads": torch.get_num_threads()}
            rows.append(row)
            print(f"{label:<58} depth {depth:>4}  p50 {row['p50_ms']:>9.1f} ms  p95 {row['p95_ms']:>9.1f} ms", flush=True)
    result = {"benchmark": "rerank", "machine": "2 CPU cores", "max_length": args.max_length, "rows": rows}
    write_result(result, args.out, args.publish)


if __name__ == "__main__":
    main()
