"""Peak memory of encoding one 8,192-token document with a model of BGE-M3's shape (CPU).

Builds a randomly initialised XLM-RoBERTa-large (24 layers, hidden 1,024, 8,194 positions,
250,002 tokens: BGE-M3's architecture, nothing downloaded) with M3's two heads, in float32, and
encodes one document of 8,192 tokens through m3search's pipeline (all three outputs, token-budget
batching), then MCLS (a CLS every 256 tokens). A third row loads the same shape from a checkpoint
on disk through m3search's own loader (``load_network``: transformers maps the safetensors file,
so only the weights a forward pass reads become resident: of the 1 GB word-embedding table, the
rows of the text's tokens). Reports the resident memory after loading and the peak while
encoding (``ru_maxrss`` of a fresh process per measurement), and the seconds taken. Writes JSON.
Not a test.

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
import json, resource, sys, time
from pathlib import Path
import numpy as np
import torch
from torch import nn
from transformers import XLMRobertaConfig, XLMRobertaModel
from m3search.encode.backends.torch import M3Network, TorchBackend
from m3search.encode.backends.base import TokenBatch
from m3search.encode import postprocess
from m3search.encode.long import insert_cls

strategy, tokens, checkpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.manual_seed(0)
torch.set_num_threads(2)
if strategy == "from-disk":
    from pathlib import Path
    from m3search.encode.backends.torch import load_network
    network = load_network(Path(checkpoint))
else:
    config = XLMRobertaConfig(vocab_size=250002, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                              intermediate_size=4096, max_position_embeddings=8194, pad_token_id=1,
                              attn_implementation="sdpa")
    backbone = XLMRobertaModel(config, add_pooling_layer=False)
    network = M3Network(backbone, nn.Linear(1024, 1024), nn.Linear(1024, 1))
    if strategy == "save":  # the checkpoint the from-disk row loads
        TorchBackend(network, device="cpu").save(Path(checkpoint))
        sys.exit(0)
backend = TorchBackend(network, device="cpu")
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ids = [0] + list(np.random.default_rng(0).integers(5, 250000, tokens - 2)) + [2]
if strategy == "mcls":
    ids = insert_cls(ids, 256, 8192)
started = time.perf_counter()
out = backend.forward(TokenBatch.pad([ids], 1), ("dense", "sparse", "colbert"))
dense = postprocess.pool(out.hidden, np.ones((1, len(ids)), np.int64), "cls")
rows = postprocess.multi_vectors(out.colbert[0], len(ids), True)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"strategy": strategy, "tokens": len(ids), "loaded_gb": loaded / 2**20, "peak_gb": peak / 2**20,
                  "seconds": seconds, "colbert_rows": int(rows.shape[0])}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "long_memory.json")
    add_publish_option(parser, "long-memory")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="m3search-long-memory-") as checkpoint:
        subprocess.run([sys.executable, "-c", CHILD, "save", "0", checkpoint], cwd=ROOT, check=True, capture_output=True)
        for strategy in ("plain", "mcls", "from-disk"):
            done = subprocess.run([sys.executable, "-c", CHILD, strategy, str(args.tokens), checkpoint], cwd=ROOT,
                                  check=True, capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(rows[-1], file=sys.stderr)
    print(f"\n{'strategy':10} {'tokens':>7} {'loaded GB':>10} {'peak GB':>8} {'seconds':>8}")
    for r in rows:
        print(f"{r['strategy']:10} {r['tokens']:>7} {r['loaded_gb']:>10.2f} {r['peak_gb']:>8.2f} {r['seconds']:>8.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "long_memory", "rows": rows, "machine": f"{os.cpu_count()} CPU cores",
              "maxrss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    args.out.write_text(json.dumps(result, indent=2))
    publish(result, args.publish)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
