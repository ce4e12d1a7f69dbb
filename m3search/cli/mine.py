"""``m3search mine``: hard negatives for training groups, from the model's own dense index."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .common import add_model_args, add_rerank_backend_arg, load_cross_encoder, load_encoder, positive


def _range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        return int(low), int(high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a rank range like 2-200, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    mine = sub.add_parser("mine", help="mine hard negatives for training groups with a model")
    mine.add_argument("input", type=Path, help="JSONL of training groups")
    mine.add_argument("-o", "--output", type=Path, required=True, help="JSONL with the mined negatives")
    mine.add_argument("--negatives", type=int, default=7, help="negatives per query (default 7: groups of 8)")
    mine.add_argument("--range", type=_range, default=(2, 200), dest="rank_range",
                      help="sample from these ranks of the dense ranking, positives skipped (default 2-200)")
    mine.add_argument("--relative-margin", type=float, default=None,
                      help="keep candidates scoring below (1 - m) x the positive's score (0.05 is NV-Retriever's)")
    mine.add_argument("--all-sources", action="store_true", help="one pool for all groups, not one per source")
    mine.add_argument("--keep-existing", action="store_true", help="add to the groups' own negatives")
    mine.add_argument("--fill-random", action="store_true",
                      help="top up groups left short (by the margin) with random passages of their own source")
    mine.add_argument("--teacher", default=None, metavar="MODEL",
                      help="write pos_scores/neg_scores for --knowledge-distillation: a cross-encoder (directory, hub "
                           "id, bge-reranker-v2-m3), or m3 for the mining model's own `all` score")
    add_rerank_backend_arg(mine)
    mine.add_argument("--no-mining", action="store_true", help="keep the groups' negatives; only add teacher scores")
    mine.add_argument("--seed", type=int, default=0)
    mine.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_model_args(mine)
    mine.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io.atomic import check_output_path
    from ..train.groups import read_groups, write_groups
    from ..train.negatives import mine_negatives

    positive("--negatives", args.negatives)
    check_output_path(args.output, "mined groups")
    if args.no_mining and args.teacher is None:
        raise ConfigurationError("--no-mining leaves only teacher scores to add: give --teacher MODEL")
    groups = read_groups(args.input)
    scorer = teacher(args)  # a bad teacher fails before the mining hour
    encoder = load_encoder(args) if not args.no_mining or args.teacher == "m3" else None
    mined = groups if encoder is None or args.no_mining else mine_negatives(
        encoder, groups, negatives=args.negatives, rank_range=args.rank_range, relative_margin=args.relative_margin,
        per_source=not args.all_sources, seed=args.seed, keep_existing=args.keep_existing,
        fill_random=args.fill_random, show_progress=not args.quiet)
    if args.teacher is not None:
        from ..train.teacher import m3_scorer, with_teacher_scores

        if scorer is None and encoder is not None:  # --teacher m3: the mining model's own `all` score
            scorer = m3_scorer(encoder)
        mined = with_teacher_scores(mined, scorer)
    write_groups(args.output, mined)
    short = sum(len(g.neg) < args.negatives for g in mined)
    print(f"wrote {len(mined)} groups to {args.output} ({short} with fewer than {args.negatives} negatives)",
          file=sys.stderr)
    return 0


def teacher(args: argparse.Namespace) -> Any:
    """The cross-encoder scorer ``--teacher`` names, loaded (``None`` for ``m3`` or no teacher)."""
    if args.teacher in (None, "m3"):
        return None
    from ..train.teacher import cross_encoder_scorer

    return cross_encoder_scorer(load_cross_encoder(args.teacher, args))
