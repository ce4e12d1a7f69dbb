"""Metadata filters as people type them (``lang=de,en``), for the CLI and the server (no torch).

A filter is a ``{field: value}`` mapping; a list value matches any of its items; several fields
must all match. :func:`parse_filters` reads ``FIELD=VALUE`` strings into one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError


def parse_filters(values: Sequence[str]) -> dict[str, Any]:
    """``["lang=de", "year=2020"]`` -> ``{"lang": "de", "year": 2020}``; ``lang=de,en`` matches either.

    >>> parse_filters(["lang=de,en", "year=2020"])
    {'lang': ['de', 'en'], 'year': 2020}
    """
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--filter takes FIELD=VALUE, got {item!r}")
        parsed = [_scalar(v) for v in value.split(",")]
        out[key] = parsed if len(parsed) > 1 else parsed[0]
    return out


def _scalar(text: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, (int, float, bool)) else text
