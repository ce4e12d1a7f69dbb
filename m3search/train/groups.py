"""Training groups: reading them, and drawing one training example from each (no torch).

A JSONL line is the reference's format::

    {"query": str, "pos": [str, ...], "neg": [str, ...],
     "pos_scores": [float, ...]?, "neg_scores": [float, ...]?, "lang": str?, "source": str?}

Score fields are only needed for distillation from a teacher. Each time a group is used, one
positive is drawn at random and ``group_size - 1`` negatives without repetition (with
repetition when the group has too few), as FlagEmbedding's ``AbsEmbedderTrainDataset`` does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.jsonl import iter_json_lines, write_jsonl


@dataclass(frozen=True)
class TrainGroup:
    """One query with its positive and negative passages (and teacher scores, optionally)."""

    query: str
    pos: tuple[str, ...]
    neg: tuple[str, ...]
    pos_scores: tuple[float, ...] | None = None
    neg_scores: tuple[float, ...] | None = None
    lang: str | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"query": self.query, "pos": list(self.pos), "neg": list(self.neg)}
        if self.pos_scores is not None and self.neg_scores is not None:
            row.update(pos_scores=list(self.pos_scores), neg_scores=list(self.neg_scores))
        for key in ("lang", "source"):
            if getattr(self, key) is not None:
                row[key] = getattr(self, key)
        return {**row, **self.extra}


@dataclass(frozen=True)
class Example:
    """What one step uses of a group: the query, ``group_size`` passages (positive first) and
    their teacher scores when the group has them."""

    query: str
    passages: tuple[str, ...]
    teacher_scores: tuple[float, ...] | None = None


def _strings(value: Any, name: str, where: str, *, allow_empty: bool) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: {name!r} must be a list of strings")
    if not value and not allow_empty:
        raise InputError(f"{where}: {name!r} is empty")
    return tuple(value)


def _scores(value: Any, name: str, where: str, length: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != length
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise InputError(f"{where}: {name!r} must be a list of {length} numbers")
    return tuple(float(v) for v in value)


def read_groups(path: str | Path) -> list[TrainGroup]:
    """The groups of a JSONL file; :class:`InputError` names the file and line of a bad one."""
    groups = []
    for number, obj in iter_json_lines(path):
        where = f"{path}:{number}"
        query = obj.pop("query", None)
        if not isinstance(query, str) or not query.strip():
            raise InputError(f"{where}: 'query' must be a non-empty string")
        pos = _strings(obj.pop("pos", None), "pos", where, allow_empty=False)
        neg = _strings(obj.pop("neg", []), "neg", where, allow_empty=True)
        pos_scores = _scores(obj.pop("pos_scores", None), "pos_scores", where, len(pos))
        neg_scores = _scores(obj.pop("neg_scores", None), "neg_scores", where, len(neg))
        if (pos_scores is None) != (neg_scores is None):
            raise InputError(f"{where}: give both 'pos_scores' and 'neg_scores', or neither")
        lang, source = obj.pop("lang", None), obj.pop("source", None)
        groups.append(TrainGroup(query, pos, neg, pos_scores, neg_scores, lang, source, obj))
    if not groups:
        raise InputError(f"{path}: no training groups")
    return groups


def write_groups(path: str | Path, groups: Iterable[TrainGroup]) -> None:
    """Write groups as JSONL, atomically."""
    write_jsonl(path, (g.to_json() for g in groups))


def draw_example(group: TrainGroup, group_size: int, rng: random.Random, *, with_scores: bool) -> Example:
    """One positive at random and ``group_size - 1`` negatives (see the module docstring).

    >>> g = TrainGroup("q", ("p1", "p2"), ("n1", "n2", "n3"))
    >>> e = draw_example(g, 3, random.Random(0), with_scores=False)
    >>> e.passages[0] in g.pos, len(e.passages), len(set(e.passages[1:])) == 2
    (True, 3, True)
    """
    if group_size < 1:
        raise InputError(f"group_size must be >= 1, got {group_size}")
    pos_index = rng.choice(range(len(group.pos)))
    wanted = group_size - 1
    neg_indices: list[int] = []
    if wanted:
        if not group.neg:
            raise InputError(f"query {group.query[:60]!r} has no negatives, but group_size={group_size} needs "
                             f"{wanted}: mine some with 'm3search mine', or use group_size 1")
        pool = list(range(len(group.neg)))
        if len(pool) < wanted:
            pool = pool * math.ceil(wanted / len(pool))
        neg_indices = rng.sample(pool, wanted)
    passages = (group.pos[pos_index], *(group.neg[i] for i in neg_indices))
    scores = None
    if with_scores:
        if group.pos_scores is None or group.neg_scores is None:
            raise InputError(f"query {group.query[:60]!r} has no teacher scores, but distillation from "
                             "teacher scores was asked for")
        scores = (group.pos_scores[pos_index], *(group.neg_scores[i] for i in neg_indices))
    return Example(group.query, passages, scores)
