"""``m3search index``: encode a JSONL corpus into an index (created, or extended by id)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..index.manifest import COLBERT_STORAGE
from .common import add_model_args, parts_arg


def register(sub: argparse._SubParsersAction) -> None:
    index = sub.add_parser("index", help="encode a JSONL corpus into an index (created, or extended by id)")
    index.add_argument("input", help="JSONL with one {\"id\": ..., \"text\": ...} per line; other fields become metadata")
    index.add_argument("--index", required=True, type=Path, help="index directory")
    index.add_argument("--parts", default="all", help="parts to store (default: all the model produces)")
    index.add_argument("--colbert-storage", choices=COLBERT_STORAGE, default="float16",
                       help="multi-vector storage: float16 (default), float32, or uint8 (half the size, scores within ~1e-3)")
    index.add_argument("--batch-size", type=int, default=64)
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_model_args(index)
    index.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..index import index_records
    from ..io.jsonl import read_jsonl
    from .common import load_encoder

    records = list(read_jsonl(args.input))
    encoder = load_encoder(args)
    parts = None if args.parts == "all" else parts_arg(args.parts)
    with index_records(encoder, records, args.index, parts=parts, colbert_storage=args.colbert_storage,
                       batch_size=args.batch_size, show_progress=not args.quiet) as index:
        print(f"{args.index}: {index.count()} documents ({', '.join(index.parts)})", file=sys.stderr)
    return 0
