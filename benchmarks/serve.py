"""Load on ``m3search serve``: throughput and latency at 1, 4 and 8 concurrent clients, side by side.

Starts the server in its own process on 127.0.0.1 (the offline model with its trained heads, the
demo's 96-paragraph index built if missing), then sends a bounded number of requests per endpoint
and concurrency: ``/v1/embeddings`` (one sample question each, as a retrieval client embeds its
queries) and ``/v1/search`` (mode ``all``, k=10). Reports requests/s, p50 and p99 latency, the
error count (which must be 0), and the gain of 8 clients over 1, which is what dynamic batching
buys. Prints a table and writes JSON. The machines are shared: read the ratios, not the absolute
numbers. Nothing here is a test.

    .venv/bin/python benchmarks/serve.py --requests 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from publish import add_publish_option, publish  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from m3search.io import SAMPLE_CORPUS, SAMPLE_QUERIES, read_jsonl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_index(path: Path, model: str) -> None:
    if (path / "manifest.json").is_file():
        return
    subprocess.run([sys.executable, "-m", "m3search", "index", str(SAMPLE_CORPUS), "--index", str(path),
                    "--model", model, "-q"], check=True, cwd=ROOT)


def start_server(index: Path, port: int, max_queue: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "m3search", "serve", "--index", str(index), "--port", str(port),
                             "-q", "--max-queue", str(max_queue)], cwd=ROOT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start")


async def load(url: str, endpoint: str, bodies: list[dict], clients: int) -> dict:
    latencies: list[float] = []
    errors = 0
    queue = iter(bodies)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for body in queue:
            started = time.perf_counter()
            response = await http.post(endpoint, json=body)
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"endpoint": endpoint, "clients": clients, "requests": len(bodies), "errors": errors,
            "requests_per_s": len(bodies) / elapsed, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per endpoint and concurrency")
    parser.add_argument("--clients", default="1,4,8")
    parser.add_argument("--model", default="multilingual-e5-small")
    parser.add_argument("--index", type=Path, default=None, help="default: a sample index in the cache")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serve.json")
    add_publish_option(parser, "serve")
    args = parser.parse_args()
    from m3search.encode.checkpoints.cache import cache_dir

    index = args.index or cache_dir() / "bench-serve-index"
    ensure_index(index, args.model)
    questions = [q.text for q in read_jsonl(SAMPLE_QUERIES)]
    clients = [int(c) for c in args.clients.split(",")]
    port = free_port()
    proc = start_server(index, port, max_queue=4 * max(clients))
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        for endpoint in ("/v1/embeddings", "/v1/search"):
            bodies = [{"input": questions[i % len(questions)], "input_type": "query"} if endpoint == "/v1/embeddings"
                      else {"query": questions[i % len(questions)], "k": 10} for i in range(args.requests)]
            asyncio.run(load(url, endpoint, bodies[: min(50, len(bodies))], max(clients)))  # warm-up
            for n in clients:
                rows.append(asyncio.run(load(url, endpoint, bodies, n)))
                print(rows[-1], file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\n{'endpoint':16} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'vs 1':>6}")
    for row in rows:
        base = next(r for r in rows if r["endpoint"] == row["endpoint"] and r["clients"] == clients[0])
        row["gain_vs_one_client"] = row["requests_per_s"] / base["requests_per_s"]
        print(f"{row['endpoint']:16} {row['clients']:>7} {row['requests']:>8} {row['requests_per_s']:>8.1f} "
              f"{row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['errors']:>6} {row['gain_vs_one_client']:>5.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "serve", "rows": rows, "machine": platform.platform(),
              "cpus": os.cpu_count()}
    args.out.write_text(json.dumps(result, indent=2))
    publish(result, args.publish)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
