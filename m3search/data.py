"""Readers and writers for corpora and queries as JSONL (no torch).

A corpus or query file holds one JSON object per line with a string ``id`` and a string
``text``; any other fields are kept as metadata (``lang``, ``title``, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import InputError

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_CORPUS = SAMPLES / "xquad-sample.jsonl"
SAMPLE_QUERIES = SAMPLES / "xquad-sample-queries.jsonl"


@dataclass(frozen=True)
class Record:
    """One document or query: its id, its text and the rest of its fields."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def read_jsonl(path: str | Path) -> Iterator[Record]:
    """Yield the records of a JSONL file, raising :class:`InputError` that names the bad line.

    Blank lines are skipped; a duplicate id is an error.
    """
    path = Path(path)
    seen: set[str] = set()
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
            doc_id, text = obj.pop("id", None), obj.pop("text", None)
            if isinstance(doc_id, int):
                doc_id = str(doc_id)
            if not isinstance(doc_id, str) or not doc_id:
                raise InputError(f"{path}:{number}: 'id' must be a non-empty string, got {doc_id!r}")
            if not isinstance(text, str):
                raise InputError(f"{path}:{number}: 'text' of {doc_id!r} must be a string, got {type(text).__name__}")
            if doc_id in seen:
                raise InputError(f"{path}:{number}: duplicate id {doc_id!r}")
            seen.add(doc_id)
            yield Record(doc_id, text, obj)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write dicts as JSONL (UTF-8, non-ASCII kept as is), atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
