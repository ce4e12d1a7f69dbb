"""``m3search encode``: a JSONL file of texts to an embeddings file (.npz or .jsonl)."""

from __future__ import annotations

import argparse
import sys

from .common import PARTS_HELP, add_model_args, add_text_args, load_encoder, parts_arg, positive


def register(sub: argparse._SubParsersAction) -> None:
    encode = sub.add_parser("encode", help="encode a JSONL file of {id, text} to .npz or .jsonl")
    encode.add_argument("input", help="JSONL with one {\"id\": ..., \"text\": ...} per line")
    encode.add_argument("-o", "--output", required=True, help="output file, .npz or .jsonl")
    encode.add_argument("--parts", default="dense", help=PARTS_HELP)
    encode.add_argument("--role", choices=("document", "query"), default="document")
    encode.add_argument("--batch-size", type=int, default=64)
    encode.add_argument("--max-length", type=int, default=None, help="truncate to this many tokens (default: model limit)")
    encode.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_text_args(encode)
    add_model_args(encode)
    encode.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io import embeddings as embeddings_io
    from ..io.atomic import check_output_path
    from ..io.jsonl import read_jsonl

    embeddings_io.format_of(args.output)  # fail before the slow part
    check_output_path(args.output, "embeddings")
    positive("--batch-size", args.batch_size)
    positive("--max-length", args.max_length)
    parts = parts_arg(args.parts)
    records = list(read_jsonl(args.input, clean=not args.raw_text))
    encoder = load_encoder(args)
    embeddings = encoder.encode(
        [r.text for r in records], role=args.role, parts=parts, batch_size=args.batch_size,
        max_length=args.max_length, show_progress=not args.quiet,
    )
    embeddings_io.save(args.output, [r.id for r in records], embeddings)
    print(f"wrote {len(records)} {args.role}s ({', '.join(embeddings.parts)}) to {args.output}", file=sys.stderr)
    return 0
