"""The metadata filter grammar, defined once and translated for each engine (no torch).

A filter is a mapping ``{field: condition}``; a document matches when every field's condition
holds (AND across fields). A condition is:

==============================  ===============================================================
``"de"``, ``2020``, ``True``      equals: strings, integers and booleans compare by type
                                  (``2020`` does not match the string ``"2020"``, ``1`` does not
                                  match ``True``); a field holding a list matches when any item does
``1.5``                           a float equals exactly (written as the range ``[1.5, 1.5]``, so it
                                  also matches an integer field holding that value)
``["de", "en"]``                  any of the listed conditions (each item any condition but a list)
``{"gte": 2000, "lt": 2010}``     a numeric range (``gt``, ``gte``, ``lt``, ``lte``; at least one)
``{"all": [c1, c2]}``             every listed condition (what a repeated CLI ``--filter`` gives)
==============================  ===============================================================

Anything else (``None``, an empty list, a dict with other keys, NaN, nested lists, an empty
field name) raises :class:`~m3search.errors.ConfigurationError` naming it, before any engine sees it.

>>> to_clauses({"lang": ["de", "en"], "year": {"gte": 2000}})
[AnyOf(options=(Equals(field='lang', value='de'), Equals(field='lang', value='en'))), Range(field='year', gt=None, gte=2000, lt=None, lte=None)]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from ..io.text import has_lone_surrogate

RANGE_KEYS = ("gt", "gte", "lt", "lte")
#: A metadata field name a filter may use: word characters and '-', '.' between nested names.
_FIELD = re.compile(r"[\w\-]+(?:\.[\w\-]+)*")
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Equals:
    field: str
    value: str | int | bool


@dataclass(frozen=True)
class Range:
    field: str
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Clause, ...]


@dataclass(frozen=True)
class AllOf:
    clauses: tuple[Clause, ...]


Clause = Equals | Range | AnyOf | AllOf


def to_clauses(filter: Mapping[str, Any] | None) -> list[Clause]:
    """The clauses a filter mapping means (all must hold); raises on anything outside the grammar."""
    if filter is None:
        return []
    if not isinstance(filter, Mapping):
        raise ConfigurationError(f"a filter is a {{field: condition}} mapping, got {type(filter).__name__}")
    clauses = []
    for field, condition in filter.items():
        if not isinstance(field, str) or not field.strip():
            raise ConfigurationError(f"filter field names must be non-empty strings, got {field!r}")
        if not _FIELD.fullmatch(field):
            raise ConfigurationError(f"filter field name {field!r}: letters, digits, '_' and '-', with '.' between "
                                     "nested names (no spaces, commas or quotes)")
        clauses.append(_clause(field, condition, in_list=False))
    return clauses


def _clause(field: str, condition: Any, *, in_list: bool) -> Clause:
    if isinstance(condition, str) and has_lone_surrogate(condition):
        raise ConfigurationError(f"filter on {field!r}: the value holds a lone surrogate (not UTF-8 text)")
    if isinstance(condition, (bool, str)):
        return Equals(field, condition)
    if isinstance(condition, int):
        if not INT64[0] <= condition <= INT64[1]:
            raise ConfigurationError(f"filter on {field!r}: {condition} is outside 64-bit integers (metadata never holds it)")
        return Equals(field, int(condition))
    if isinstance(condition, float):
        _finite(field, condition)
        return Range(field, gte=condition, lte=condition)
    if isinstance(condition, (list, tuple, set, frozenset)):
        if in_list:
            raise ConfigurationError(f"filter on {field!r}: a list inside a list means nothing, got {condition!r}")
        if not condition:
            raise ConfigurationError(f"filter on {field!r}: an empty list would match nothing")
        return AnyOf(tuple(_clause(field, c, in_list=True) for c in condition))
    if isinstance(condition, Mapping):
        keys = set(condition)
        if keys == {"all"}:
            items = condition["all"]
            if not isinstance(items, (list, tuple)) or not items:
                raise ConfigurationError(f"filter on {field!r}: 'all' takes a non-empty list, got {items!r}")
            return AllOf(tuple(_clause(field, c, in_list=False) for c in items))
        if not keys or not keys <= set(RANGE_KEYS):
            raise ConfigurationError(
                f"filter on {field!r}: a mapping is a range with keys {', '.join(RANGE_KEYS)} (or 'all'), got {dict(condition)!r}"
            )
        bounds = {}
        for key in keys:
            value = condition[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigurationError(f"filter on {field!r}: range bound {key} must be a number, got {value!r}")
            _finite(field, value)
            bounds[key] = value
        return Range(field, **bounds)
    raise ConfigurationError(
        f"filter on {field!r}: a condition is a string, number, boolean, list or range, got {condition!r}"
    )


def _finite(field: str, value: float) -> None:
    if not math.isfinite(value):
        raise ConfigurationError(f"filter on {field!r}: {value!r} is not a finite number")


def check_filter(filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate ``filter`` early (before a model loads); returns it as a plain dict (or ``None``).

    >>> check_filter({"year": None})
    Traceback (most recent call last):
    ...
    m3search.errors.ConfigurationError: filter on 'year': a condition is a string, number, boolean, list or range, got None
    """
    to_clauses(filter)
    return dict(filter) if filter else None


def translate(
    clause: Clause,
    *,
    equals: Callable[[str, Any], Any],
    range_: Callable[[str, dict[str, float]], Any],
    any_of: Callable[[list[Any]], Any],
    all_of: Callable[[list[Any]], Any],
    prefix: str = "",
) -> Any:
    """An engine's condition object for ``clause``, built by the four constructors given
    (payload key = ``prefix + field``); how each backend speaks the one grammar."""

    def build(c: Clause) -> Any:
        if isinstance(c, Equals):
            return equals(prefix + c.field, c.value)
        if isinstance(c, Range):
            bounds = {k: getattr(c, k) for k in RANGE_KEYS if getattr(c, k) is not None}
            return range_(prefix + c.field, bounds)
        if isinstance(c, AnyOf):
            return any_of([build(o) for o in c.options])
        return all_of([build(o) for o in c.clauses])

    return build(clause)
