"""``--publish``: a benchmark's JSON written to ``docs/data/NAME.json`` as well, with the command
line that made it and the date, for ``scripts/make_docs_results.py`` to turn into the docs'
tables (``.venv/bin/python benchmarks/serve.py --publish`` then ``scripts/make_docs_results.py``)."""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS_DATA = ROOT / "docs" / "data"


def add_publish_option(parser: argparse.ArgumentParser, name: str) -> None:
    """``--publish [NAME]``: also write ``docs/data/NAME.json`` (``name`` when NAME is left out)."""
    parser.add_argument("--publish", nargs="?", const=name, default=None, metavar="NAME",
                        help=f"also write docs/data/NAME.json for the docs' results pages (default NAME: {name})")


def command_line(argv: list[str]) -> str:
    """The command as the docs print it: the repository's interpreter and a repository-relative script.

    >>> command_line([str(ROOT / "benchmarks" / "serve.py"), "--requests", "1000", "--publish"])
    '.venv/bin/python benchmarks/serve.py --requests 1000 --publish'
    """
    script = Path(argv[0]).resolve()
    shown = script.relative_to(ROOT).as_posix() if script.is_relative_to(ROOT) else argv[0]
    return shlex.join([".venv/bin/python", shown, *argv[1:]])


def publish(result: dict[str, Any], name: str | None) -> Path | None:
    """Write ``result`` to ``docs/data/NAME.json`` with ``command`` and ``date`` first; nothing without a name."""
    if not name:
        return None
    if Path(name).name != name or name.endswith(".json"):
        raise SystemExit(f"--publish takes a file stem such as search-10k-float16, not {name!r}")
    path = DOCS_DATA / f"{name}.json"
    stamped = {"command": command_line(sys.argv), "date": datetime.date.today().isoformat(), **result}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stamped, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return path


def write_result(result: dict[str, Any], out: Path, name: str | None) -> None:
    """A benchmark's JSON to ``out`` (its folder made), and to ``docs/data/NAME.json`` with ``--publish NAME``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    publish(result, name)
    print(f"wrote {out}")
