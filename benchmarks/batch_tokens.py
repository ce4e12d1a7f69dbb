"""Encoding time per padded-token budget (``max_batch_tokens``), for each backend on the CPU.

The texts of ``benchmarks/encode.py`` (240 XQuAD paragraphs and 480 questions in 12 languages,
the offline model with its heads, all three outputs, at most 64 texts per pass), encoded by
each backend at each budget in one process per backend; the best of ``--repeats`` passes per
set. What ``Encoder.batch_tokens`` (the default budget on a CPU) is chosen from. Writes JSON.

    .venv/bin/python benchmarks/batch_tokens.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from publish import add_publish_option, publish  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "onnx", "onnx-int8", "openvino-bf16")
BUDGETS = (16384, 4096, 2048, 1024, 512)


def run_backend(backend: str, budgets: list[int], repeats: int, data: Path) -> list[dict[str, object]]:
    """Seconds per set at each budget for one backend (in this process)."""
    from encode import LANGS, xquad  # benchmarks/encode.py

    from m3search.encode import Encoder

    texts = xquad(data, LANGS, 20, 40)
    encoder = Encoder.load("multilingual-e5-small", backend=backend, **({"device": "cpu"} if backend == "torch" else {}))
    encoder.encode(texts["paragraphs"][:20], parts="all", show_progress=False)
    rows = []
    for budget in budgets:
        row: dict[str, object] = {"backend": backend, "max_batch_tokens": budget}
        for name, role in (("paragraphs", "document"), ("queries", "query")):
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                encoder.encode(texts[name], role=role, parts="all", batch_size=64, max_batch_tokens=budget,
                               show_progress=False)
                samples.append(time.perf_counter() - start)
            row[f"{name}_seconds"] = min(samples)
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "batch_tokens.json")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    add_publish_option(parser, "batch-tokens")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(run_backend(args.worker, budgets, args.repeats, args.data)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
    rows = []
    for backend in args.backends.split(","):
        done = subprocess.run([sys.executable, __file__, "--worker", backend, "--budgets", args.budgets,
                               "--repeats", str(args.repeats), "--threads", str(args.threads), "--data", str(args.data)],
                              env=env, capture_output=True, text=True, check=True)
        rows += json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\n{'backend':15} {'budget':>7} {'paragraphs s':>13} {'questions s':>12}")
    for r in rows:
        print(f"{r['backend']:15} {r['max_batch_tokens']:>7} {r['paragraphs_seconds']:>13.2f} {r['queries_seconds']:>12.2f}")
    result = {"benchmark": "batch_tokens", "threads": args.threads, "repeats": args.repeats, "rows": rows,
              "machine": f"{os.cpu_count()} CPU cores"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    publish(result, args.publish)


if __name__ == "__main__":
    main()
