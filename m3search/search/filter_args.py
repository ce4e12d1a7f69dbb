"""Metadata filters as people type them on the command line (``lang=de,en``), read into the
filter grammar of :mod:`m3search.index.filters` (no torch).

``FIELD=VALUE``
    VALUE is read as JSON when it is JSON: ``year=2020`` is the integer, ``year='"2020"'`` the
    string (the quotes keep it a string), ``draft=true`` the boolean, ``score=0.5`` a float,
    ``lang='["de","en"]'`` a list. Otherwise it is text, and commas separate alternatives:
    ``lang=de,en`` matches either.
``FIELD>=N``, ``FIELD>N``, ``FIELD<=N``, ``FIELD<N``
    a numeric range.

Several ``--filter`` options must all match; a field given twice must satisfy both
(``year>=2000 --filter year<2010`` is one range). An empty VALUE is an error, not a filter
that silently matches nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from ..index.filters import check_filter

#: Two-character operators first, so that ``>=`` is not read as ``>`` followed by ``=``.
OPERATORS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "=": "eq"}


def parse_filters(values: Sequence[str]) -> dict[str, Any]:
    """``["lang=de,en", "year>=2000", "year<2010"]`` -> one filter mapping.

    >>> parse_filters(["lang=de,en", "year>=2000", "year<2010", 'code="007"'])
    {'lang': ['de', 'en'], 'year': {'gte': 2000, 'lt': 2010}, 'code': '007'}
    >>> parse_filters(["tag=a", "tag=b"])
    {'tag': {'all': ['a', 'b']}}
    """
    conditions: dict[str, list[Any]] = {}
    for item in values:
        field, op, text = _split(item)
        if op == "eq":
            condition = _value(text)
        else:
            number = _json(text)
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise ConfigurationError(f"--filter {item!r}: a range needs a number after the operator, got {text!r}")
            condition = {op: number}
        conditions.setdefault(field, []).append(condition)
    out = {field: _merge(field, items) for field, items in conditions.items()}
    check_filter(out)
    return out


def _split(item: str) -> tuple[str, str, str]:
    found = [(item.find(symbol), -len(symbol), symbol) for symbol in OPERATORS if symbol in item]
    if not found:
        raise ConfigurationError(f"--filter takes FIELD=VALUE (or FIELD>=N, FIELD<N, ...), got {item!r}")
    position, _, symbol = min(found)
    field, text = item[:position].strip(), item[position + len(symbol):]
    if not field:
        raise ConfigurationError(f"--filter {item!r} names no field")
    if not text.strip():
        raise ConfigurationError(f"--filter {item!r} has an empty value (write {field}='\"\"' to match an empty string)")
    return field, OPERATORS[symbol], text


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _value(text: str) -> Any:
    value = _json(text)
    if value is not text:  # it was JSON
        return value
    if "," in text:
        items = [_json(part.strip()) for part in text.split(",")]
        if any(part == "" for part in items):
            raise ConfigurationError(f"--filter value {text!r} has an empty alternative")
        return items
    return text


def _merge(field: str, items: list[Any]) -> Any:
    if len(items) == 1:
        return items[0]
    ranges = [i for i in items if isinstance(i, dict)]
    if len(ranges) == len(items):
        merged: dict[str, Any] = {}
        for bounds in ranges:
            if set(bounds) & set(merged):
                return {"all": items}
            merged.update(bounds)
        return merged
    return {"all": items}
