"""``m3search search``: query an index, as a table or JSON, with explanations."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..search.modes import MODES
from .common import BACKEND_CHOICES, add_rerank_backend_arg, add_wait_arg, load_cross_encoder, positive


def register(sub: argparse._SubParsersAction) -> None:
    search = sub.add_parser("search", help="search an index")
    search.add_argument("queries", nargs="+", help="one or more query texts")
    search.add_argument("--index", required=True, help="index directory, or a Qdrant collection URL http(s)://host:port/collection")
    search.add_argument("--mode", choices=MODES, default=None, help="default: all (or the best the index allows)")
    search.add_argument("-k", type=int, default=10, help="hits per query")
    search.add_argument("--candidates", type=int, default=100, help="dense and sparse candidates per query for fused modes")
    search.add_argument("--hnsw-ef", type=int, default=None,
                        help="HNSW beam width of the first stages (default: twice --candidates, at least 128)")
    search.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE", help="metadata filter, repeatable")
    search.add_argument("--explain", action="store_true", help="show the tokens behind each match")
    search.add_argument("--rerank", default=None, metavar="MODEL",
                        help="a cross-encoder (directory, hub id or bge-reranker-v2-m3) that rescores the first hits")
    add_rerank_backend_arg(search)
    search.add_argument("--rerank-depth", type=int, default=100, help="hits per query the cross-encoder rescores (100)")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--model", default=None,
                        help="where to load the encoder from (default: where the index says it came from)")
    search.add_argument("--device", default=None)
    search.add_argument("--backend", choices=BACKEND_CHOICES, default=None,
                        help="what encodes the queries (default: the backend that built the index)")
    add_wait_arg(search)
    search.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..index import Index
    from ..search import Searcher, parse_filters
    from .render import hits_to_json, print_hits

    positive("-k", args.k)
    positive("--candidates", args.candidates)
    if args.hnsw_ef is not None:
        positive("--hnsw-ef", args.hnsw_ef)
    filters = parse_filters(args.filter)
    index = Index.open(args.index, wait=args.wait)

    def load() -> Any:
        from ..encode import Encoder

        return Encoder.for_identity(index.manifest.encoder, name=args.model, device=args.device, backend=args.backend)

    reranker = None
    if args.rerank is not None:
        positive("--rerank-depth", args.rerank_depth)
        reranker = load_cross_encoder(args.rerank, args)
    with index:
        searcher = Searcher(load, index, mode=args.mode, candidates=args.candidates, rerank=reranker,
                            rerank_depth=args.rerank_depth, hnsw_ef=args.hnsw_ef)
        hits = searcher.search(args.queries, k=args.k, filter=filters, explain=args.explain)
        if args.json:
            print(json.dumps(hits_to_json(args.queries, hits, searcher.mode if args.mode is None else args.mode),
                             ensure_ascii=False, indent=2))
        else:
            print_hits(args.queries, hits, args.mode or searcher.mode)
    return 0
