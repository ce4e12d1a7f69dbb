"""``m3search encode``: a JSONL file of texts to an embeddings file (.npz or .jsonl)."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigurationError
from .common import PARTS_HELP, add_model_args, load_encoder, parts_arg


def register(sub: argparse._SubParsersAction) -> None:
    encode = sub.add_parser("encode", help="encode a JSONL file of {id, text} to .npz or .jsonl")
    encode.add_argument("input", help="JSONL with one {\"id\": ..., \"text\": ...} per line")
    encode.add_argument("-o", "--output", required=True, help="output file, .npz or .jsonl")
    encode.add_argument("--parts", default="dense", help=PARTS_HELP)
    encode.add_argument("--role", choices=("document", "query"), default="document")
    encode.add_argument("--batch-size", type=int, default=64)
    encode.add_argument("--max-length", type=int, default=None, help="truncate to this many tokens (default: model limit)")
    encode.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_model_args(encode)
    encode.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io import embeddings as embeddings_io
    from ..io.jsonl import read_jsonl

    embeddings_io.format_of(args.output)  # fail before the slow part
    if args.batch_size < 1:
        raise ConfigurationError(f"batch size must be >= 1, got {args.batch_size}")
    records = list(read_jsonl(args.input))
    encoder = load_encoder(args)
    embeddings = encoder.encode(
        [r.text for r in records], role=args.role, parts=parts_arg(args.parts), batch_size=args.batch_size,
        max_length=args.max_length, show_progress=not args.quiet,
    )
    embeddings_io.save(args.output, [r.id for r in records], embeddings)
    print(f"wrote {len(records)} {args.role}s ({', '.join(embeddings.parts)}) to {args.output}", file=sys.stderr)
    return 0
