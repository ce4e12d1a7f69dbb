"""The ``m3search`` command: one module per command, each with ``register(subparsers)``.

::

    m3search model prepare [NAME]             materialise the offline model in the cache
    m3search encode CORPUS.jsonl -o OUT       encode texts to .npz or .jsonl
    m3search index CORPUS.jsonl --index DIR   encode a corpus into an index (created or extended)
    m3search search --index DIR "query" ...   search it: --mode, -k, --filter, --explain, --json
    m3search serve --index DIR                the HTTP API and a search page on 127.0.0.1:8000
    m3search eval --suite xquad-mono          every mode x language on a benchmark suite
    m3search data build-train -o mix.jsonl    the multilingual training mix from shared/data
    m3search mine mix.jsonl -o mined.jsonl    hard negatives from the model's own index
    m3search train --config train.yaml        unified fine-tuning with self-distillation
    m3search demo                             index the bundled multilingual sample and search it

Parsing the command line imports no torch; a command loads the model only when it needs it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..errors import M3SearchError
from . import data, demo, encode, eval, index, mine, model, search, serve, train

COMMANDS = (model, encode, index, search, serve, eval, data, mine, train, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="m3search", description="Multilingual dense, sparse and multi-vector search.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for results that name it
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args))
    except M3SearchError as exc:
        print(f"m3search: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
