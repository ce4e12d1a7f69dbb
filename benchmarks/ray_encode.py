"""Encoding through Ray against the single-process encoder, at equal worker count, in one run.

Builds the same index (XQuAD paragraphs in 12 languages, the offline multilingual-e5-small with
its shipped heads, all three parts) four ways: one process with 1 and with 2 torch threads, and
``index_records_ray`` on a local Ray cluster (``num_cpus=2``) with 1 and 2 actors (Ray gives a
1-CPU actor one thread). Ray's time includes starting its actors and loading one model in each
(they load in parallel): a first run on 2 texts per actor measures that fixed cost, and the table
also gives each Ray run less it (its steady encoding rate).
Prints a table, writes JSON. Ratios, not absolute times: the machine is shared.

    .venv/bin/python benchmarks/ray_encode.py --paragraphs 40
"""

from __future__ import annotations

import argparse
import functools
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from publish import add_publish_option, write_result  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from encode import LANGS, xquad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--paragraphs", type=int, default=40, help="XQuAD paragraphs per language")
    parser.add_argument("--rows-per-task", type=int, default=64, help="texts per Ray batch")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ray_encode.json")
    add_publish_option(parser, "ray-encode")
    args = parser.parse_args()

    import ray
    import torch

    from m3search.encode import Encoder
    from m3search.index import index_records
    from m3search.io.jsonl import Record
    from m3search.scale.ray_encode import LOCAL_RAY, index_records_ray

    texts = xquad(args.data, LANGS, args.paragraphs, 0)["paragraphs"]
    records = [Record(f"p{i}", t, {}) for i, t in enumerate(texts)]
    started = time.perf_counter()
    encoder = Encoder.load("multilingual-e5-small", device="cpu")
    load_s = time.perf_counter() - started
    tokens = sum(len(t) for t in encoder.tokenize(texts))
    loader = functools.partial(Encoder.load, "multilingual-e5-small", device="cpu")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False, **LOCAL_RAY)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            encoder.encode(texts[:8], parts="all")  # warm-up
            started = time.perf_counter()
            index_records(encoder, records, Path(tmp) / f"single-{threads}", show_progress=False).close()
            rows.append({"system": f"one process, {threads} thread(s)", "workers": threads,
                         "seconds": time.perf_counter() - started})
        for actors in (1, 2):
            timings = []
            for name, chunk in (("startup", records[: 2 * actors]), ("all", records)):  # the fixed cost, then the run
                started = time.perf_counter()
                index_records_ray(loader, chunk, Path(tmp) / f"ray-{actors}-{name}", actors=actors, rows_per_task=args.rows_per_task,
                                  show_progress=False, encoder=encoder).close()
                timings.append(time.perf_counter() - started)
            startup, seconds = timings
            rows.append({"system": f"Ray, {actors} actor(s)", "workers": actors, "seconds": seconds,
                         "startup_s": startup, "seconds_less_startup": seconds - startup})
    ray.shutdown()
    single = {r["workers"]: r["seconds"] for r in rows if r["system"].startswith("one")}
    for row in rows:
        row["tokens_per_s"] = tokens / row["seconds"]
        row["vs_one_process"] = single[row["workers"]] / row["seconds"]
        if "seconds_less_startup" in row:
            row["vs_one_process_less_startup"] = single[row["workers"]] / row["seconds_less_startup"]
    print(f"\n{len(texts)} XQuAD paragraphs ({tokens} tokens) in {len(LANGS)} languages, all three parts, "
          f"index built in a temporary directory; model load {load_s:.1f} s")
    print(f"{'system':<26}{'seconds':>9}{'tokens/s':>10}{'x one process':>15}{'startup s':>11}{'x, less startup':>17}")
    for row in rows:
        less = row.get("vs_one_process_less_startup")
        extra = "" if less is None else f"{row['startup_s']:>11.1f}{less:>16.2f}x"
        print(f"{row['system']:<26}{row['seconds']:>9.1f}{row['tokens_per_s']:>10.0f}{row['vs_one_process']:>14.2f}x{extra}")
    result = {"benchmark": "ray_encode", "model": "multilingual-e5-small + shipped M3 heads", "paragraphs": len(texts),
              "tokens": tokens, "model_load_s": load_s, "rows_per_task": args.rows_per_task, "rows": rows, "ray": ray.__version__,
              "machine": platform.machine(), "python": platform.python_version()}
    write_result(result, args.out, args.publish)


if __name__ == "__main__":
    main()
