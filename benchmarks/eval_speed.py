"""How long `m3search eval` takes with the modes sharing one first stage, against each mode on its own.

Same suite, subsets, model and modes, one run of each, side by side (the corpus and query
embeddings are encoded first, outside the timings, so that both read them from the cache).
Prints a table, checks that both give the same numbers, and writes JSON::

    .venv/bin/python benchmarks/eval_speed.py --suite xquad-cross --subsets en-de,de-en,ru-zh
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from publish import add_publish_option, publish  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]
MODES = "dense,sparse,colbert,dense+sparse,all,rrf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="xquad-cross")
    parser.add_argument("--subsets", default="en-de,de-en,en-zh,zh-en,ru-th,ar-hi")
    parser.add_argument("--modes", default=MODES)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "eval_speed.json")
    add_publish_option(parser, "eval-speed")
    args = parser.parse_args()

    from m3search.encode import Encoder
    from m3search.encode.checkpoints.cache import cache_dir
    from m3search.eval.runner import run_suite

    encoder = Encoder.load("multilingual-e5-small")
    subsets, modes = args.subsets.split(","), args.modes.split(",")
    options = {"data_dir": args.data, "cache": cache_dir(), "modes": modes, "subsets": subsets}
    run_suite(args.suite, encoder, **{**options, "modes": ["all"]})  # encode all parts (cached), untimed
    seconds, scores = {}, {}
    for share in (False, True):
        start = time.perf_counter()
        result = run_suite(args.suite, encoder, share_candidates=share, **options)
        seconds[share] = time.perf_counter() - start
        scores[share] = result.scores
    same = scores[True] == scores[False]
    print(f"\n{args.suite}, {len(subsets)} subsets ({args.subsets}), modes {args.modes}")
    print(f"{'each mode on its own':<28}{seconds[False]:>8.1f} s")
    print(f"{'modes share the first stage':<28}{seconds[True]:>8.1f} s   {seconds[False] / seconds[True]:.2f}x faster")
    print(f"same numbers: {same}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"suite": args.suite, "subsets": subsets, "modes": modes, "same_numbers": same,
              "seconds_separate": seconds[False], "seconds_shared": seconds[True]}
    args.out.write_text(json.dumps(result, indent=2))
    publish(result, args.publish)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
