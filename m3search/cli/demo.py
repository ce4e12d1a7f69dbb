"""The README's main job: index the bundled multilingual sample, then search it in six scripts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..encode.checkpoints.cache import cache_dir
from ..errors import ConfigurationError
from ..index import Index, index_records
from ..io import SAMPLE_CORPUS, SAMPLE_QUERIES, read_jsonl
from ..search import Searcher
from .common import add_model_args, load_encoder
from .render import print_hits

if TYPE_CHECKING:
    from ..encode import Encoder

#: One query per script is shown in full; all 96 sample queries count in the summary.
SHOWN = ("de", "ru", "zh", "ar", "hi", "th")


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="index the bundled multilingual sample and search it")
    demo.add_argument("-k", type=int, default=3, help="hits per query")
    demo.add_argument("--index", type=Path, default=None, help="where to build the index (default: in the cache)")
    add_model_args(demo)
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_demo(load_encoder(args), k=args.k, index_dir=args.index)


def run_demo(encoder: Encoder, k: int = 3, index_dir: Path | None = None) -> int:
    """Index the 96-paragraph sample (rebuilt each run), print hits for six queries with
    per-mode scores, and count how often the top hit answers the query."""
    docs = list(read_jsonl(SAMPLE_CORPUS))
    queries = list(read_jsonl(SAMPLE_QUERIES))
    index_dir = Path(index_dir) if index_dir else cache_dir() / "demo-index"
    if (index_dir / "manifest.json").is_file():  # the demo's own index of an earlier run: rebuilt
        Index.open(index_dir).drop()
    elif index_dir.exists() and (not index_dir.is_dir() or any(index_dir.iterdir())):
        raise ConfigurationError(f"{index_dir} exists and is not an index: the demo deletes nothing it did not make; "
                                 "choose another --index")
    print(f"model {encoder.config.name} (parts: {', '.join(encoder.parts)}); "
          f"indexing {len(docs)} paragraphs in 12 languages into {index_dir}")
    with index_records(encoder, docs, index_dir) as index:
        searcher = Searcher(encoder, index)
        shown = [next(q for q in queries if q.metadata["lang"] == lang) for lang in SHOWN]
        print_hits([q.text for q in shown], searcher.search([q.text for q in shown], k=k), searcher.mode)
        top = searcher.search([q.text for q in queries], k=1)
        answered = sum(hits[0].id.startswith(q.metadata["relevant"]) for q, hits in zip(queries, top))
    print(f"\nThe top hit answers {answered}/{len(queries)} sample queries (the same paragraph in any of 12 languages).")
    command = sys.argv[0] if sys.argv[0].endswith("m3search") else "m3search"  # the venv's own, when run from it
    print(f"Search it yourself: {command} search --index {index_dir} \"your question\" --explain")
    return 0
