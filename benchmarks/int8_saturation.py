"""int8 with 8-bit or 7-bit weights (ONNX Runtime's ``reduce_range``) on this CPU.

On x86 CPUs with AVX2 but without VNNI, ONNX Runtime adds pairs of uint8 x int8 products in 16
bits, which can saturate (``m3search/encode/backends/cpu_int8.py``). This measures what each
weight width costs on the CPU it runs on:

- the offline encoder's int8 graphs (SmoothQuant-calibrated and uncalibrated), quantised from
  the same cached float32 graph with 8-bit and 7-bit weights: mean and lowest cosine of their
  dense vectors to torch float32's on XQuAD paragraphs;
- the two tiny test cross-encoders (``tests/fixtures``): largest and mean distance of their
  int8 logits to FlagEmbedding's (the goldens) on the goldens' pairs at 32 tokens.

    .venv/bin/python benchmarks/int8_saturation.py --publish
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encode import LANGS, xquad  # benchmarks/encode.py
from publish import ROOT, add_publish_option, command_line, publish

FIXTURES = ROOT / "tests" / "fixtures"


def encoder_rows(paragraphs: list[str], work: Path) -> list[dict[str, Any]]:
    """Dense cosine to torch float32 of each int8 graph (calibration x weight width)."""
    from m3search.encode import Encoder
    from m3search.encode.backends import onnx_smoothquant
    from m3search.encode.backends.onnx import OnnxBackend
    from m3search.encode.backends.onnx_export import export_cached, quantize
    from m3search.encode.backends.onnx_files import graph_dir
    from m3search.encode.checkpoints import hub
    from m3search.encode.tokenizer import TextTokenizer

    checkpoint = hub.resolve("multilingual-e5-small")
    source = graph_dir(checkpoint, "onnx")
    if not source.is_dir():
        export_cached(checkpoint, source, "onnx")
    ids = TextTokenizer.load(checkpoint).encode(onnx_smoothquant.calibration_texts(),
                                                max_length=onnx_smoothquant.MAX_TOKENS)
    want = Encoder.load("multilingual-e5-small", device="cpu").encode(paragraphs, parts="dense", show_progress=False).dense
    graph = Encoder.load("multilingual-e5-small", backend="onnx")
    rows = []
    for calibration in ("smoothquant", "none"):
        for reduce_range in (False, True):
            target = work / f"{calibration}-{int(reduce_range)}"
            quantize(source, target, calibration_ids=ids if calibration == "smoothquant" else None,
                     reduce_range=reduce_range)
            graph.backend = OnnxBackend(target)
            cosine = (graph.encode(paragraphs, parts="dense", show_progress=False).dense * want).sum(axis=1)
            rows.append({"model": "multilingual-e5-small (encoder)", "calibration": calibration,
                         "weights": "7-bit" if reduce_range else "8-bit",
                         "dense_cosine_mean": float(cosine.mean()), "dense_cosine_min": float(cosine.min())})
            print(rows[-1], flush=True)
    return rows


def reranker_rows(work: Path) -> list[dict[str, Any]]:
    """Distance of each tiny cross-encoder's int8 logits to the goldens, per weight width."""
    from m3search.encode.backends.onnx_export import quantize
    from m3search.rerank import CrossEncoder
    from m3search.rerank.graph_export import cached_graph
    from m3search.rerank.onnx_scorer import OnnxScorer

    golden = json.loads((FIXTURES / "reranker-goldens.json").read_text())
    pairs = [tuple(p) for p in golden["pairs"]]
    rows = []
    for model in ("tiny-reranker", "tiny-bert-reranker"):
        expected = np.array(golden["models"][model]["32"]["logits"])
        source = cached_graph(FIXTURES / model, "onnx")
        encoder = CrossEncoder.load(FIXTURES / model, backend="onnx")
        for reduce_range in (False, True):
            target = work / f"{model}-{int(reduce_range)}"
            quantize(source, target, quantize_heads=True, reduce_range=reduce_range)
            encoder.scorer = OnnxScorer(FIXTURES / model, "onnx-int8", graph=target)  # this run's graph
            got = encoder.score(pairs, max_length=32)
            rows.append({"model": f"{model} (cross-encoder)", "calibration": "none",
                         "weights": "7-bit" if reduce_range else "8-bit",
                         "logit_distance_max": float(np.abs(got - expected).max()),
                         "logit_distance_mean": float(np.abs(got - expected).mean())})
            print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--paragraphs", type=int, default=4, help="XQuAD paragraphs per language (12 languages)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "int8-saturation.json")
    add_publish_option(parser, "int8-saturation")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    from m3search.encode.backends.cpu_int8 import saturating_int8

    paragraphs = ["passage: " + p for p in xquad(args.data, list(LANGS), args.paragraphs, 0)["paragraphs"]]
    with tempfile.TemporaryDirectory(prefix="int8-") as tmp:
        rows = encoder_rows(paragraphs, Path(tmp)) + reranker_rows(Path(tmp))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else ""
    result = {"benchmark": "int8-saturation", "machine": f"{cpu}, {'AVX2 without VNNI' if saturating_int8() else 'VNNI or not x86'}",
              "saturating_int8": saturating_int8(), "paragraphs": len(paragraphs), "rows": rows,
              "command": command_line(sys.argv)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    publish(result, args.publish)
    print(f"{'graph':40} {'calibration':12} {'weights':8} result")
    for r in rows:
        value = (f"dense cosine {r['dense_cosine_mean']:.4f} (min {r['dense_cosine_min']:.4f})" if "dense_cosine_mean" in r
                 else f"logit distance max {r['logit_distance_max']:.3f} (mean {r['logit_distance_mean']:.3f})")
        print(f"{r['model']:40} {r['calibration']:12} {r['weights']:8} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
