"""Corpora and query sets as JSONL, read with validation and written atomically (no torch).

A corpus or query file holds one JSON object per line with a string ``id`` and a string
``text``; any other fields are kept as metadata (``lang``, ``title``, ...). Files are read as
``utf-8-sig``, so a leading byte-order mark is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .atomic import atomic_write


@dataclass(frozen=True)
class Record:
    """One document or query: its id, its text and the rest of its fields."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; :class:`InputError` names the file and line."""
    path = Path(path)
    try:
        handle = open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        number = 0
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
                if not isinstance(obj, dict):
                    raise InputError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
                yield number, obj
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}:{number + 1}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def read_jsonl(path: str | Path, *, id_key: str = "id") -> Iterator[Record]:
    """Yield the records of a JSONL file, raising :class:`InputError` that names the bad line.

    Blank lines are skipped; a duplicate id is an error; an integer id is read as its string.
    """
    seen: set[str] = set()
    for number, obj in iter_json_lines(path):
        doc_id, text = obj.pop(id_key, None), obj.pop("text", None)
        if isinstance(doc_id, int) and not isinstance(doc_id, bool):
            doc_id = str(doc_id)
        if not isinstance(doc_id, str) or not doc_id:
            raise InputError(f"{path}:{number}: {id_key!r} must be a non-empty string, got {doc_id!r}")
        if not isinstance(text, str):
            raise InputError(f"{path}:{number}: 'text' of {doc_id!r} must be a string, got {type(text).__name__}")
        if doc_id in seen:
            raise InputError(f"{path}:{number}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        yield Record(doc_id, text, obj)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write dicts as JSONL (UTF-8, non-ASCII kept as is), atomically."""
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
