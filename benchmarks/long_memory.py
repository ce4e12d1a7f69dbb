"""Peak memory of encoding one 8,192-token document with a model of BGE-M3's shape (CPU).

Builds a randomly initialised XLM-RoBERTa-large (24 layers, hidden 1,024, 8,194 positions,
250,002 tokens: BGE-M3's architecture, nothing downloaded) with M3's two heads, in float32, and
encodes one document of 8,192 tokens through m3search's pipeline (all three outputs, token-budget
batching), then MCLS (a CLS every 256 tokens). A third row loads the same shape from a checkpoint
on disk through m3search's own loader (``TorchBackend.load``: transformers maps the safetensors
file), then in bfloat16 (cast from that float32 checkpoint, and read from a
checkpoint saved in bfloat16), then through the exported graphs (ONNX Runtime
float32 and int8, exported once beforehand into a private cache; no torch in the measuring
process), and the int8 graph once more with ONNX Runtime's flash attention switched off
(``ORT_DISABLE_FLASH_ATTENTION=1``: every layer materialises its attention probabilities, as
the fused ``Attention`` operator does). Each measurement is a fresh process; it reports the
peak while loading, the resident memory after loading, the peak while encoding (Linux's
``VmHWM``, reset after loading through ``/proc/self/clear_refs``) and the seconds taken.
Writes JSON. Not a test.

    .venv/bin/python benchmarks/long_memory.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from publish import add_publish_option, publish  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
from pathlib import Path
import numpy as np
from m3search.encode.backends.base import TokenBatch
from m3search.encode import postprocess
from m3search.encode.long import insert_cls

strategy, tokens, checkpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3]
onnx_kind = {"onnx": "onnx", "onnx-int8": "onnx-int8", "onnx-int8-no-flash": "onnx-int8"}.get(strategy)
if onnx_kind:  # the exported graph runs without torch, as a search process would
    from m3search.encode.backends import onnx as onnx_backend
    if strategy == "onnx-int8-no-flash":
        assert os.environ.get("ORT_DISABLE_FLASH_ATTENTION") == "1"
    os.environ["OMP_NUM_THREADS"] = "2"
    backend = onnx_backend.load(Path(checkpoint), onnx_kind, device="cpu")
else:
    import torch
    from torch import nn
    from transformers import XLMRobertaConfig, XLMRobertaModel
    from m3search.encode.backends.torch import M3Network, TorchBackend, load_network
    torch.manual_seed(0)
    torch.set_num_threads(2)
    if strategy == "export":  # the graphs the onnx rows load, made once beforehand
        from m3search.encode.backends.onnx_export import _publish, export_cached, quantize
        from m3search.encode.backends.onnx_files import graph_dir
        source = export_cached(Path(checkpoint), graph_dir(Path(checkpoint), "onnx"), "onnx")
        # SmoothQuant as for any checkpoint, on random token ids: this random model has no tokenizer
        # (and no text means more to it than noise); the graph has the same operators either way
        rng = np.random.default_rng(0)
        calibration = [[0, *rng.integers(5, 250000, n - 2).tolist(), 2] for n in (16, 64, 256, 512) * 4]
        _publish(graph_dir(Path(checkpoint), "onnx-int8"), lambda tmp: quantize(source, tmp, calibration_ids=calibration))
        sys.exit(0)
    if strategy == "save-bf16":  # the checkpoint the bf16-stored row loads: saved from a bfloat16 model
        TorchBackend.load(Path(checkpoint), device="cpu", dtype=torch.bfloat16).save(Path(checkpoint + "-bf16"))
        sys.exit(0)
    if strategy == "from-disk":
        backend = TorchBackend.load(Path(checkpoint), device="cpu")
    elif strategy == "bf16-from-disk":
        backend = TorchBackend.load(Path(checkpoint), device="cpu", dtype=torch.bfloat16)
    elif strategy == "bf16-stored":
        backend = TorchBackend.load(Path(checkpoint + "-bf16"), device="cpu", dtype=torch.bfloat16)
    else:
        config = XLMRobertaConfig(vocab_size=250002, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                  intermediate_size=4096, max_position_embeddings=8194, pad_token_id=1,
                                  attn_implementation="sdpa")
        backbone = XLMRobertaModel(config, add_pooling_layer=False)
        network = M3Network(backbone, nn.Linear(1024, 1024), nn.Linear(1024, 1))
        if strategy == "save":  # the checkpoint the from-disk rows load
            TorchBackend(network, device="cpu").save(Path(checkpoint))
            sys.exit(0)
        backend = TorchBackend(network, device="cpu")
def status_gb(field):  # VmRSS: resident now; VmHWM: the peak since the process began or the last reset
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field + ":"))
    return int(line.split()[1]) / 2**20
loading_peak, loaded = status_gb("VmHWM"), status_gb("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, so that the encoding's own peak is read below
ids = [0] + list(np.random.default_rng(0).integers(5, 250000, tokens - 2)) + [2]
if strategy == "mcls":
    ids = insert_cls(ids, 256, 8192)
started = time.perf_counter()
out = backend.forward(TokenBatch.pad([ids], 1), ("dense", "sparse", "colbert"))
dense = postprocess.pool(np.asarray(out.hidden, dtype=np.float32), np.ones((1, len(ids)), np.int64), "cls")
rows = postprocess.multi_vectors(np.asarray(out.colbert[0], dtype=np.float32), len(ids), True)
seconds = time.perf_counter() - started
print(json.dumps({"strategy": strategy, "tokens": len(ids), "loading_peak_gb": loading_peak, "loaded_gb": loaded,
                  "peak_gb": status_gb("VmHWM"),
                  "seconds": seconds, "colbert_rows": int(rows.shape[0]), "torch_imported": "torch" in sys.modules}))
"""

#: Each measured row, in the table's order.
STRATEGIES = ("plain", "mcls", "from-disk", "bf16-from-disk", "bf16-stored", "onnx", "onnx-int8",
              "onnx-int8-no-flash")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "long_memory.json")
    parser.add_argument("--strategies", type=lambda v: v.split(","), default=list(STRATEGIES),
                        help=f"comma-separated rows to measure (default: all of {','.join(STRATEGIES)})")
    add_publish_option(parser, "long-memory")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="m3search-long-memory-") as work:
        checkpoint = str(Path(work) / "checkpoint")
        env = dict(os.environ, M3SEARCH_CACHE=str(Path(work) / "cache"))  # the exported graphs stay in here
        strategies = [s for s in STRATEGIES if s in args.strategies]
        phases = ("save",) + (("save-bf16",) if "bf16-stored" in strategies else ()) + (
            ("export",) if any(s.startswith("onnx") for s in strategies) else ())
        for phase in phases:
            subprocess.run([sys.executable, "-c", CHILD, phase, "0", checkpoint], cwd=ROOT, check=True, env=env)
        for strategy in strategies:
            flash = {"ORT_DISABLE_FLASH_ATTENTION": "1"} if strategy.endswith("no-flash") else {}
            done = subprocess.run([sys.executable, "-c", CHILD, strategy, str(args.tokens), checkpoint], cwd=ROOT,
                                  check=True, capture_output=True, text=True, env=dict(env, **flash))
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(rows[-1], file=sys.stderr)
    print(f"\n{'strategy':20} {'tokens':>7} {'loading GB':>11} {'loaded GB':>10} {'peak GB':>8} {'seconds':>8}")
    for r in rows:
        print(f"{r['strategy']:20} {r['tokens']:>7} {r['loading_peak_gb']:>11.2f} {r['loaded_gb']:>10.2f} "
              f"{r['peak_gb']:>8.2f} {r['seconds']:>8.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "long_memory", "rows": rows, "machine": f"{os.cpu_count()} CPU cores",
              "maxrss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    args.out.write_text(json.dumps(result, indent=2))
    publish(result, args.publish)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
