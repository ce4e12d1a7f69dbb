"""Corpora and query sets as JSONL, read with validation and written atomically (no torch).

A corpus or query file holds one JSON object per line with a string ``id`` and a string
``text``; any other fields are kept as metadata (``lang``, ``title``, ...). Files are UTF-8; a
leading byte-order mark is accepted. Texts are cleaned (:mod:`~m3search.io.text`) unless asked not to.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .atomic import atomic_write
from .text import clean_text


@dataclass(frozen=True)
class Record:
    """One document or query: its id, its text and the rest of its fields."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; :class:`InputError` names the file and line.

    Each line is decoded on its own, so a byte that is not UTF-8 is reported on its own line; a
    leading byte-order mark is skipped; ``NaN`` and ``Infinity`` (which Python's json accepts
    but JSON does not) and lone surrogates (``"\\ud800"``, which no encoder can write) are refused.
    """
    path = Path(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}:{number}: not UTF-8 text ({exc.reason} at byte {exc.start} of the line)") from exc
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_constant=_refuse_constant)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            except ValueError as exc:
                raise InputError(f"{path}:{number}: {exc}") from exc
            except RecursionError:
                raise InputError(f"{path}:{number}: JSON nested too deeply to read") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
            escape = _SURROGATE.search(line)
            if escape:
                try:
                    json.dumps(obj, ensure_ascii=False).encode("utf-8")
                except UnicodeEncodeError:
                    raise InputError(f"{path}:{number}: holds a lone surrogate escape ({escape.group()}), "
                                     "which is not text") from None
            yield number, obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def read_jsonl(path: str | Path, *, id_key: str = "id", clean: bool = True, allow_empty: bool = False) -> Iterator[Record]:
    """Yield the records of a JSONL file, raising :class:`InputError` that names the bad line.

    Blank lines are skipped; a duplicate id, or a text that is empty or only whitespace, is an
    error (unless ``allow_empty``); an integer id is read as its string. With ``clean`` (the
    default) texts pass through :func:`~m3search.io.text.clean_text` (invisible marks out, NFC).
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
        if clean:
            text = clean_text(text)
        if not allow_empty and not text.strip():
            raise InputError(f"{path}:{number}: the text of {doc_id!r} is empty (nothing to encode or to find)")
        if doc_id in seen:
            raise InputError(f"{path}:{number}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        yield Record(doc_id, text, obj)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write dicts as JSONL (UTF-8, non-ASCII kept as is), atomically."""
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
