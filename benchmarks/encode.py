"""Encoding speed: every m3search backend against FlagEmbedding, sentence-transformers and a bare
torch loop, side by side in one run.

Same checkpoint (the offline multilingual-e5-small with its shipped sparse and multi-vector
heads), same texts (XQuAD paragraphs in 12 languages, and XQuAD questions as a short-query
set), same thread count. Each system runs in its own process (so that its peak RSS is its own):
it loads, warms up on a few texts, then encodes each set ``--repeats`` times; the median is
kept. Reports tokens/s, docs/s, peak RSS and the ratio to m3search's torch backend, prints a
table and writes JSON. The machines are shared and noisy: compare ratios within one run.

    .venv/bin/python benchmarks/encode.py --threads 2

FlagEmbedding needs transformers<5 and runs from the reference environment ``.venv-ref`` (built
by ``.ci/run``); it is skipped, and says so, when that environment is missing. A system that
cannot run here (a package missing) is reported with the reason instead of a number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from publish import add_publish_option, write_result  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]
#: Where the parent process leaves the graphs of bge-m3-lite's recipes for the workers.
LITE_DIR_VARIABLE = "M3SEARCH_BENCH_LITE_DIR"
LANGS = ["en", "de", "es", "ru", "zh", "ar", "hi", "th", "el", "tr", "vi", "ro"]
#: (name, what it produces, how it runs)
SYSTEMS = [
    ("m3search torch", "all 3", "m3search:torch"),
    ("m3search onnx", "all 3", "m3search:onnx"),
    ("m3search onnx-int8", "all 3", "m3search:onnx-int8"),  # SmoothQuant-calibrated (the default)
    ("m3search onnx-int8 dynamic", "all 3", "m3search:onnx-int8:none"),  # int8_calibration="none"
    ("m3search openvino", "all 3", "m3search:openvino"),
    ("m3search openvino-bf16", "all 3", "m3search:openvino-bf16"),
    ("bge-m3-lite recipe fp32", "all 3", "lite:fp32"),  # its graph rewrites on our fused graph: lite_recipe.py
    ("bge-m3-lite recipe int8", "all 3", "lite:int8"),
    ("bare torch loop", "dense", "bare"),
    ("sentence-transformers torch", "dense", "st:torch"),
    ("sentence-transformers onnx", "dense", "st:onnx"),
    ("FlagEmbedding (batch 64)", "all 3", "flag:64"),
    ("FlagEmbedding (batch 256)", "all 3", "flag:256"),  # its default batch; slow: --systems can leave it out
]


def xquad(data_dir: Path, langs: list[str], paragraphs: int, questions: int) -> dict[str, list[str]]:
    """The first ``paragraphs`` paragraphs and ``questions`` questions of each language."""
    out: dict[str, list[str]] = {"paragraphs": [], "queries": []}
    for lang in langs:
        squad = json.loads((data_dir / "raw" / "xquad" / f"xquad.{lang}.json").read_text())
        contexts = [p for a in squad["data"] for p in a["paragraphs"]]
        out["paragraphs"].extend(p["context"] for p in contexts[:paragraphs])
        out["queries"].extend([q["question"] for p in contexts for q in p["qas"]][:questions])
    return out


# ---------------------------------------------------------------------------- workers
def run_worker(how: str, checkpoint: str, texts: dict[str, list[str]], repeats: int, batch_size: int,
               single: int = 50) -> dict[str, Any]:
    """Load the system, warm it up, time each text set; one process per system."""
    kind, _, option = how.partition(":")
    encode = _loader(kind, option, checkpoint, batch_size)
    encode(texts["paragraphs"][:8], "document")
    seconds = {}
    for name, role in (("paragraphs", "document"), ("queries", "query")):
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            encode(texts[name], role)
            samples.append(time.perf_counter() - start)
        seconds[name] = statistics.median(samples)
    latencies = []  # a search user's wait: one short query at a time
    for text in texts["queries"][:single]:
        start = time.perf_counter()
        encode([text], "query")
        latencies.append(time.perf_counter() - start)
    return {"seconds": seconds, "single_query_ms_p50": 1000 * statistics.median(latencies),
            "single_query_ms_p95": 1000 * float(np.percentile(latencies, 95)), "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """This process's own high-water mark (``ru_maxrss`` would include the parent's at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build_lite_graphs(directory: Path, wanted: set[str] | None) -> dict[str, str]:
    """bge-m3-lite's recipes on m3search's fused graph (``lite_recipe.py``), into ``directory``;
    ``{"error": why}`` when its package is missing."""
    recipes = [how.partition(":")[2] for name, _, how in SYSTEMS
               if how.startswith("lite:") and (not wanted or name in wanted)]
    if not recipes:
        return {}
    try:
        import bge_m3_lite  # noqa: F401
    except ImportError:
        return {"error": "pip install 'bge-m3-lite[quant]'"}
    import lite_recipe  # benchmarks/lite_recipe.py

    from m3search.encode.backends.onnx_files import graph_dir
    from m3search.encode.checkpoints import hub

    source = graph_dir(hub.resolve("multilingual-e5-small"), "onnx")
    return {recipe: str(lite_recipe.build(source, directory / f"lite-{recipe}", recipe)) for recipe in recipes}


def _dense_fidelity(encoder: Any, paragraphs: list[str], lite_dir: Path, lite: dict[str, str]) -> dict[str, float]:
    """Mean cosine of each exported graph's dense vectors to torch float32's on ``paragraphs``."""
    from m3search.encode import Encoder
    from m3search.encode.backends.onnx import OnnxBackend

    want = encoder.encode(paragraphs, parts="dense", show_progress=False).dense
    graphs = {"m3search onnx": Encoder.load("multilingual-e5-small", backend="onnx"),
              "m3search onnx-int8": Encoder.load("multilingual-e5-small", backend="onnx-int8"),
              "m3search onnx-int8 dynamic": Encoder.load("multilingual-e5-small", backend="onnx-int8", calibration="none")}
    for recipe in (r for r in lite if r != "error"):
        graphs[f"bge-m3-lite recipe {recipe}"] = Encoder.load("multilingual-e5-small", backend="onnx")
        graphs[f"bge-m3-lite recipe {recipe}"].backend = OnnxBackend(lite_dir / f"lite-{recipe}")
    return {name: float((graph.encode(paragraphs, parts="dense", show_progress=False).dense * want).sum(axis=1).mean())
            for name, graph in graphs.items()}


def _prefixed(texts: list[str], role: str) -> list[str]:
    return [("query: " if role == "query" else "passage: ") + t for t in texts]


def _loader(kind: str, option: str, checkpoint: str, batch_size: int) -> Any:
    if kind == "m3search":
        from m3search.encode import Encoder

        backend, _, calibration = option.partition(":")
        settings = {"device": "cpu"} if backend == "torch" else {"calibration": calibration} if calibration else {}
        encoder = Encoder.load("multilingual-e5-small", backend=backend, **settings)
        return lambda texts, role: encoder.encode(texts, role=role, parts="all", batch_size=batch_size, show_progress=False)
    if kind == "lite":  # m3search's pipeline on the graph bge-m3-lite's recipe made (built by the parent)
        from m3search.encode import Encoder
        from m3search.encode.backends.onnx import OnnxBackend

        encoder = Encoder.load("multilingual-e5-small", backend="onnx")
        encoder.backend = OnnxBackend(Path(os.environ[LITE_DIR_VARIABLE]) / f"lite-{option}")
        return lambda texts, role: encoder.encode(texts, role=role, parts="all", batch_size=batch_size, show_progress=False)
    if kind == "bare":
        import torch
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        model = AutoModel.from_pretrained(checkpoint, add_pooling_layer=False).eval()

        def bare(texts: list[str], role: str) -> None:
            ordered = sorted(_prefixed(texts, role), key=len)
            with torch.inference_mode():
                for i in range(0, len(ordered), 32):
                    batch = tokenizer(ordered[i : i + 32], padding=True, truncation=True, max_length=512, return_tensors="pt")
                    hidden = model(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1)
                    torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

        return bare
    if kind == "st":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(checkpoint, device="cpu", backend=option)
        return lambda texts, role: model.encode(_prefixed(texts, role), batch_size=32, normalize_embeddings=True)
    if kind == "flag":
        from FlagEmbedding import BGEM3FlagModel

        flag = BGEM3FlagModel(checkpoint, use_fp16=False, devices="cpu", pooling_method="mean", normalize_embeddings=True)
        return lambda texts, role: flag.encode(_prefixed(texts, role), batch_size=int(option), max_length=512,
                                               return_dense=True, return_sparse=True, return_colbert_vecs=True)
    raise ValueError(f"{kind}:{option}")


# ---------------------------------------------------------------------------- driver
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--paragraphs", type=int, default=20, help="XQuAD paragraphs per language")
    parser.add_argument("--questions", type=int, default=40, help="XQuAD questions per language")
    parser.add_argument("--langs", default=",".join(LANGS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="m3search batch size")
    parser.add_argument("--systems", default=None, help="comma-separated subset of the system names")
    parser.add_argument("--reference-python", type=Path, default=ROOT / ".venv-ref" / "bin" / "python")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "encode.json")
    add_publish_option(parser, "encode")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:  # one system, in its own process
        import torch

        torch.set_num_threads(args.threads)
        texts = json.loads(args.texts_file.read_text())
        print(json.dumps(run_worker(args.worker, args.checkpoint, texts, args.repeats, args.batch_size)))
        return

    from m3search.encode import Encoder
    from m3search.encode.checkpoints import hub

    texts = xquad(args.data, args.langs.split(","), args.paragraphs, args.questions)
    checkpoint = str(hub.resolve("multilingual-e5-small"))  # HF weights + the shipped head files
    encoder = Encoder.load("multilingual-e5-small", device="cpu")
    tokens = {name: sum(len(t) for t in encoder.tokenize(texts[name], role=role))
              for name, role in (("paragraphs", "document"), ("queries", "query"))}
    for backend, calibration in (("onnx", None), ("onnx-int8", None), ("onnx-int8", "none")):  # export once, untimed
        Encoder.load("multilingual-e5-small", backend=backend, calibration=calibration)
    wanted = set(args.systems.split(",")) if args.systems else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
               "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT), LITE_DIR_VARIABLE: tmp}
        lite = _build_lite_graphs(Path(tmp), wanted)
        fidelity = _dense_fidelity(encoder, texts["paragraphs"][:48], Path(tmp), lite)
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts))
        for name, produces, how in SYSTEMS:
            if wanted and name not in wanted:
                continue
            python = str(args.reference_python) if how.startswith("flag") else sys.executable
            row: dict[str, Any] = {"system": name, "outputs": produces}
            if how.startswith("flag") and not Path(python).exists():
                row["error"] = f"{python} missing (built by .ci/run)"
            elif how.startswith("lite") and how.partition(":")[2] not in lite:
                row["error"] = f"bge-m3-lite's recipe not built: {lite.get('error', 'not asked for')}"
            else:
                cmd = [python, __file__, "--worker", how, "--texts-file", str(texts_file), "--checkpoint", checkpoint,
                       "--threads", str(args.threads), "--repeats", str(args.repeats), "--batch-size", str(args.batch_size)]
                done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
                if done.returncode == 0:
                    row.update(json.loads(done.stdout.strip().splitlines()[-1]))
                else:
                    row["error"] = (done.stderr.strip().splitlines() or ["failed"])[-1][:200]
            rows.append(row)
            print(f"  {name}: {row.get('seconds', row.get('error'))}", file=sys.stderr)

    base = next((r for r in rows if r["system"] == "m3search torch" and "seconds" in r), None)
    for row in rows:
        if "seconds" not in row:
            continue
        for name in ("paragraphs", "queries"):
            row[f"{name}_tokens_per_s"] = tokens[name] / row["seconds"][name]
            row[f"{name}_docs_per_s"] = len(texts[name]) / row["seconds"][name]
            if base:
                row[f"{name}_vs_torch"] = base["seconds"][name] / row["seconds"][name]
    result = {
        "benchmark": "encode", "model": "multilingual-e5-small + shipped M3 heads", "threads": args.threads,
        "repeats": args.repeats, "paragraphs": len(texts["paragraphs"]), "paragraph_tokens": tokens["paragraphs"],
        "queries": len(texts["queries"]), "query_tokens": tokens["queries"], "languages": args.langs.split(","),
        "m3search_batch_size": args.batch_size, "rows": rows, "dense_cosine_to_torch": fidelity,
        "machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
    }
    print(f"\n{len(texts['paragraphs'])} XQuAD paragraphs ({tokens['paragraphs']} tokens) and {len(texts['queries'])} "
          f"questions ({tokens['queries']} tokens) in {len(args.langs.split(','))} languages, {args.threads} threads, "
          f"median of {args.repeats}")
    print(f"{'system':<30}{'outputs':>8}{'para tok/s':>12}{'x torch':>9}{'query tok/s':>13}{'x torch':>9}"
          f"{'1 query p50':>13}{'peak RSS':>10}")
    for row in rows:
        if "seconds" not in row:
            print(f"{row['system']:<30}{row['outputs']:>8}   not run: {row['error']}")
            continue
        print(f"{row['system']:<30}{row['outputs']:>8}{row['paragraphs_tokens_per_s']:>12.0f}"
              f"{row.get('paragraphs_vs_torch', float('nan')):>8.2f}x{row['queries_tokens_per_s']:>13.0f}"
              f"{row.get('queries_vs_torch', float('nan')):>8.2f}x{row['single_query_ms_p50']:>10.1f} ms"
              f"{row['peak_rss_mb']:>8.0f}MB")
    write_result(result, args.out, args.publish)


if __name__ == "__main__":
    main()
