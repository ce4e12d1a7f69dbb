"""``m3search index``: encode a JSONL corpus into an index (created, or extended by id)."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from ..index.manifest import COLBERT_STORAGE
from .common import add_model_args, add_text_args, add_wait_arg, parts_arg, positive


def register(sub: argparse._SubParsersAction) -> None:
    index = sub.add_parser("index", help="encode a JSONL corpus into an index (created, or extended by id)")
    index.add_argument("input", help="JSONL with one {\"id\": ..., \"text\": ...} per line; other fields become metadata")
    index.add_argument("--index", required=True, type=Path, help="index directory")
    index.add_argument("--parts", default=None,
                       help="parts to store in a new index (default: all the model produces); an existing index keeps its own")
    index.add_argument("--colbert-storage", choices=COLBERT_STORAGE, default=None,
                       help="multi-vector storage of a new index: float16 (default), float32, or uint8 (half the size, "
                            "scores within ~1e-3); an existing index keeps its own")
    index.add_argument("--batch-size", type=int, default=64)
    ray = index.add_argument_group("Ray (pip install \"m3search[ray]\")")
    ray.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                     help="encode on a Ray cluster: an address (auto, ray://host:10001) or, alone, a local one")
    ray.add_argument("--ray-actors", type=int, default=1, help="encoding actors, one model each (default: 1)")
    ray.add_argument("--ray-gpus-per-actor", type=float, default=0, help="GPUs per actor (1 on GPU nodes)")
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_text_args(index)
    add_wait_arg(index)
    add_model_args(index)
    index.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..index import index_records
    from ..io.jsonl import read_jsonl
    from .common import load_encoder

    positive("--batch-size", args.batch_size)
    parts = None if args.parts in (None, "all") else parts_arg(args.parts)
    records = list(read_jsonl(args.input, clean=not args.raw_text))  # every line checked before anything is written
    encoder = load_encoder(args)
    if args.ray is not None:
        from ..scale.ray_encode import index_records_ray

        positive("--ray-actors", args.ray_actors)
        loader = functools.partial(load_encoder, argparse.Namespace(**{**vars(args), "func": None, "quiet": True}))
        built = index_records_ray(
            loader, records, args.index, actors=args.ray_actors, gpus_per_actor=args.ray_gpus_per_actor,
            address=None if args.ray == "local" else args.ray, parts=parts, colbert_storage=args.colbert_storage,
            batch_size=args.batch_size, show_progress=not args.quiet, wait=args.wait, encoder=encoder)
    else:
        built = index_records(encoder, records, args.index, parts=parts, colbert_storage=args.colbert_storage,
                              batch_size=args.batch_size, show_progress=not args.quiet, wait=args.wait)
    with built as index:
        print(f"{args.index}: {index.count()} documents ({', '.join(index.parts)})", file=sys.stderr)
    return 0
