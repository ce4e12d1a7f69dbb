"""``m3search eval``: every mode x language on a bundled benchmark suite."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..eval.suites import SUITES
from ..io.atomic import atomic_write_text
from .common import add_model_args, load_encoder, split_list


def register(sub: argparse._SubParsersAction) -> None:
    from ..eval.runner import BASELINES

    evaluation = sub.add_parser("eval", help="evaluate every mode on a multilingual benchmark suite")
    evaluation.add_argument("--suite", required=True, choices=SUITES)
    evaluation.add_argument("--modes", default=None, help="comma-separated modes (default: all the model supports)")
    evaluation.add_argument("--baseline", default=None,
                            help=f"comma-separated baseline rows to add: {', '.join(BASELINES)}, or all")
    evaluation.add_argument("--metrics", default=None, help="comma-separated, e.g. nDCG@10,Recall@100,MRR@10")
    evaluation.add_argument("--subsets", default=None, help="comma-separated subsets (languages) to run")
    evaluation.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared/data directory")
    evaluation.add_argument("--cache", type=Path, default=None,
                            help="suites and embeddings cache (default: the m3search cache)")
    evaluation.add_argument("-o", "--output", type=Path, default=None,
                            help="JSON results (default: eval-SUITE-MODEL.json)")
    add_model_args(evaluation)
    evaluation.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..encode.checkpoints.cache import cache_dir
    from ..eval.runner import BASELINES, run_suite
    from ..search.modes import modes_for

    baselines = list(BASELINES) if args.baseline == "all" else split_list(args.baseline)
    encoder = load_encoder(args)
    modes = split_list(args.modes) or modes_for(encoder.parts)
    result = run_suite(args.suite, encoder, data_dir=args.data, cache=args.cache or cache_dir(), modes=modes,
                       baseline=baselines, metrics=split_list(args.metrics), subsets=split_list(args.subsets))
    print(result.table())
    out = args.output or Path(f"eval-{args.suite}-{Path(str(result.model)).name}.json")
    atomic_write_text(out, json.dumps(result.to_json(), indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0
