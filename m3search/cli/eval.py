"""``m3search eval``: every mode x language on a bundled suite or on the user's own BEIR directories."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..eval.public_suites import HUB_SUITES, PAPER
from ..eval.suites import SUITES
from ..io.atomic import atomic_write_text
from .common import add_model_args, add_rerank_backend_arg, load_cross_encoder, load_encoder, split_list


def register(sub: argparse._SubParsersAction) -> None:
    from ..eval.rows import BASELINES

    evaluation = sub.add_parser("eval", help="evaluate every mode on a bundled suite or on BEIR directories")
    source = evaluation.add_mutually_exclusive_group(required=True)
    source.add_argument("--suite", choices=SUITES + tuple(HUB_SUITES),
                        help="a bundled suite, built from shared/data, or one of the paper's (miracl, mldr, mkqa: "
                             "downloaded from the Hugging Face hub on first use)")
    source.add_argument("--beir", nargs="+", type=Path, metavar="DIR",
                        help="your own BEIR directories (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv), each a subset")
    evaluation.add_argument("--split", default=None,
                            help="qrels split of --beir directories (default: test) or of a paper suite "
                                 "(default: miracl dev, mldr test, mkqa test)")
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
    evaluation.add_argument("--plot", type=Path, default=None, metavar="DIR",
                            help="write PNG pictures (bars, cross-lingual heatmaps, groups) into DIR")
    evaluation.add_argument("--html", type=Path, default=None, metavar="FILE",
                            help="write one HTML page with the tables and pictures")
    second = evaluation.add_argument_group("a cross-encoder rerank stage (rows <mode>+rerank@<depth>)")
    second.add_argument("--rerank", default=None, metavar="MODEL",
                        help="a cross-encoder (directory, hub id or bge-reranker-v2-m3) rescoring a mode's first documents")
    second.add_argument("--rerank-depths", default="10,50,100", help="documents rescored per query, one row each")
    add_rerank_backend_arg(second)
    second.add_argument("--rerank-of", default=None, metavar="MODE", help="the mode reranked (default: all, else the first)")
    reduce = evaluation.add_argument_group("documents reduced as an index would store them")
    reduce.add_argument("--colbert-pool-factor", type=int, default=None, help="hierarchical token pooling factor")
    reduce.add_argument("--sparse-top-k", type=int, default=None, help="keep each document's K heaviest lexical weights")
    reduce.add_argument("--sparse-min-weight", type=float, default=None, help="drop lexical weights below W")
    add_model_args(evaluation)
    evaluation.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..encode.checkpoints.cache import cache_dir
    from ..eval.beir import read_beir
    from ..eval.metrics import measure_name
    from ..eval.runner import BASELINES, run_beir, run_suite
    from ..io.atomic import check_output_path
    from ..search.modes import MODES, modes_for

    if args.output is not None:
        check_output_path(args.output, "results")
    baselines = list(BASELINES) if args.baseline == "all" else split_list(args.baseline)
    for name in baselines or ():
        if name not in BASELINES:
            raise ConfigurationError(f"unknown baseline {name!r}; choose from {list(BASELINES)} or all")
    for mode in split_list(args.modes) or ():
        if mode not in MODES:
            raise ConfigurationError(f"unknown mode {mode!r}; choose from {list(MODES)}")
    for metric in split_list(args.metrics) or ():
        if not metric.startswith("AnswerRecall@"):
            measure_name(metric)  # a bad metric fails here, not after an hour of encoding
    if args.beir:
        for directory in args.beir:  # malformed files are named before the model loads
            read_beir(directory, args.split or "test")
    from ..index.pooling import check_settings
    from .index import compression_options

    check_settings(args.colbert_pool_factor or 1, args.sparse_top_k, args.sparse_min_weight)  # before the model loads
    rerank = rerank_option(args)
    encoder = load_encoder(args)
    modes = split_list(args.modes) or modes_for(encoder.parts)
    cache = args.cache or cache_dir()
    if args.beir:
        result = run_beir(args.beir, encoder, cache=cache, split=args.split or "test", modes=modes, baseline=baselines,
                          metrics=split_list(args.metrics), compression=compression_options(args), rerank=rerank)
    else:
        result = run_suite(args.suite, encoder, data_dir=args.data, cache=cache, modes=modes, baseline=baselines,
                           metrics=split_list(args.metrics), subsets=split_list(args.subsets), split=args.split,
                           compression=compression_options(args), rerank=rerank)
    print(result.table())
    if result.suite in PAPER:
        reference = " · ".join(f"{row} {value:.3f}" for row, value in PAPER[result.suite].items())
        print(f"\nBGE-M3 in the paper (arXiv 2402.03216 v4), average {result.metrics[0]} over all its languages: "
              f"{reference}")
    out = args.output or Path(f"eval-{result.suite}-{Path(str(result.model)).name}.json")
    # the command and date first, as benchmarks' --publish writes them: the docs' tables name both
    stamp = {"command": shown_command(["m3search", *getattr(args, "argv", [])]), "date": datetime.date.today().isoformat()}
    atomic_write_text(out, json.dumps({**stamp, **result.to_json()}, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    images = []
    if args.plot or args.html:
        from ..eval.plots import write_html, write_plots

        images = write_plots(result, args.plot or out.with_suffix("").with_name(out.stem + "-plots"))
        for image in images:
            print(f"wrote {image}", file=sys.stderr)
        if args.html:
            print(f"wrote {write_html([result], images, args.html)}", file=sys.stderr)
    return 0


def rerank_option(args: argparse.Namespace) -> Any:
    """The cross-encoder rows ``--rerank`` asks for (the model loaded, the depths checked), or ``None``."""
    if args.rerank is None:
        return None
    from ..eval.runner import Rerank

    try:
        depths = tuple(int(d) for d in split_list(args.rerank_depths) or ())
    except ValueError:
        raise ConfigurationError(f"--rerank-depths takes whole numbers like 10,50,100, got {args.rerank_depths!r}") from None
    if not depths or min(depths) < 1:
        raise ConfigurationError(f"--rerank-depths must be whole numbers >= 1, got {args.rerank_depths!r}")
    return Rerank(load_cross_encoder(args.rerank, args), depths, args.rerank_of)


def shown_command(argv: list[str]) -> str:
    """The command as typed, with the user's home written ``~`` (the shell expanded it) so that
    a recorded command names no machine's home directory.

    >>> home = str(Path.home())
    >>> shown_command(["m3search", "eval", "--model", home + "/.cache/m", "-o", "a b.json"])
    "m3search eval --model ~/.cache/m -o 'a b.json'"
    """
    home = str(Path.home()).rstrip(os.sep) + os.sep
    shown = []
    for arg in argv:
        rest = arg[len(home):] if arg.startswith(home) else None
        shown.append("~/" + rest if rest and shlex.quote(rest) == rest else shlex.quote(arg))
    return " ".join(shown)
