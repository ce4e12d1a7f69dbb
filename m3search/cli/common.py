"""What several commands share: model options, loading the encoder, splitting lists (no torch)."""

from __future__ import annotations

import argparse
from typing import Any

from ..encode.checkpoints.hub import DEFAULT_MODEL

PARTS_HELP = "comma-separated parts: dense, sparse, colbert, or all (default: dense)"


def split_list(value: str | None) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; ``None`` stays ``None``.

    >>> split_list("nDCG@10, MRR@10")
    ['nDCG@10', 'MRR@10']
    """
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def parts_arg(value: str) -> tuple[str, ...] | str:
    """``"all"`` or a tuple of part names."""
    return "all" if value == "all" else tuple(split_list(value) or ())


def add_model_args(parser: argparse.ArgumentParser, default_heads: str = "model") -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"short name, local directory or hub id (default: {DEFAULT_MODEL})")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument("--heads", choices=("model", "baseline", "random", "none"), default=default_heads,
                        help="sparse and multi-vector heads: model (the checkpoint's own; multilingual-e5-small ships "
                             "trained ones), baseline (identity multi-vector, uniform term weights), random "
                             "(untrained, seeded), or none (dense only)")


def load_encoder(args: argparse.Namespace) -> Any:
    """The encoder the model options name (imports torch)."""
    from ..encode import Encoder

    encoder = Encoder.load(args.model, device=args.device)
    if args.heads in ("baseline", "random"):
        encoder.add_heads(init=args.heads, replace=True)
    elif args.heads == "none":
        encoder.without_heads()
    return encoder
