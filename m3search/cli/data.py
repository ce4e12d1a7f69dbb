"""``m3search data build-train``: the multilingual training mix from ``shared/data``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigurationError
from .common import positive


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="build training data").add_subparsers(dest="data_command", required=True)
    build = data.add_parser("build-train", help="the multilingual training mix (disjoint from every eval suite)")
    build.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared/data directory")
    build.add_argument("-o", "--output", type=Path, required=True, help="JSONL of training groups")
    build.add_argument("--max-per-source", type=int, default=None, help="sample at most N questions per QA source")
    build.add_argument("--sib-sentences", type=int, default=None,
                       help="take N SIB-200 sentence indices (each in all 62 languages); default all 701")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--cache", type=Path, default=None, help="suites cache (default: the m3search cache)")
    build.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    from ..encode.checkpoints.cache import cache_dir
    from ..io.atomic import check_output_path
    from ..train.mix import build_training_mix

    positive("--max-per-source", args.max_per_source)
    if args.sib_sentences is not None and args.sib_sentences < 0:  # 0: no SIB-200 sentences (QA only)
        raise ConfigurationError(f"--sib-sentences must be >= 0, got {args.sib_sentences}")
    check_output_path(args.output, "training groups")

    counts = build_training_mix(args.data, args.output, cache=args.cache or cache_dir() / "suites",
                                max_per_source=args.max_per_source, sib_sentences=args.sib_sentences, seed=args.seed)
    for source, n in counts.items():
        print(f"{source:<16}{n:>8}", file=sys.stderr)
    print(f"wrote {sum(counts.values())} training groups to {args.output}", file=sys.stderr)
    return 0
