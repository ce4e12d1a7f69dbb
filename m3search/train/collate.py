"""Efficient batching for training: length buckets, one bucket (and optionally one source) per
batch, and collation into padded tensors.

Groups are bucketed by their longest text in tokens (query, positives and negatives), with the
reference's edges by default (0, 500, 1000, 2000, ... 7000 and beyond); every batch holds groups
of one bucket, so that a batch of short texts is never padded to a long one. With
``same_source`` every batch also comes from one source (one dataset), as FlagEmbedding's
``same_dataset_within_batch`` does: in-batch negatives then come from the same distribution.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from .groups import Example
from .step import TrainBatch

if TYPE_CHECKING:
    from ..encode import Encoder
    from .state_cache import StateCache

#: The reference's length buckets (tokens), ``split_data_by_length.py``.
DEFAULT_BUCKET_EDGES = (0, 500, 1000, 2000, 3000, 4000, 5000, 6000, 7000)


def bucket_of(length: int, edges: Sequence[int] = DEFAULT_BUCKET_EDGES) -> int:
    """Index of the bucket ``[edges[i], edges[i+1])`` holding ``length``.

    >>> bucket_of(10), bucket_of(500), bucket_of(9000)
    (0, 1, 8)
    """
    return max(0, bisect.bisect_right(list(edges), length) - 1)


def plan_batches(lengths: Sequence[int], batch_size: int, rng: random.Random, *,
                 sources: Sequence[str | None] | None = None, edges: Sequence[int] = DEFAULT_BUCKET_EDGES,
                 drop_last: bool = False, weights: Sequence[float] | None = None) -> list[list[int]]:
    """Group indices for one epoch: shuffled within each bucket (and source), cut into batches
    of ``batch_size``, batches in random order.

    ``weights`` (one per group) sample groups more or less often (see :func:`draw_counts`); a
    group drawn twice is in two copies, each shuffled and batched apart, so one batch never
    holds a group twice.

    >>> lengths = [10, 600, 20, 700, 30, 40]
    >>> batches = plan_batches(lengths, 2, random.Random(0))
    >>> sorted(sorted(b) for b in batches if lengths[b[0]] >= 500), all(len(b) == 2 for b in batches)
    ([[1, 3]], True)
    >>> twice = plan_batches([10] * 4, 2, random.Random(0), weights=[2, 2, 0, 1])
    >>> sorted(i for b in twice for i in b), all(len(set(b)) == len(b) for b in twice)
    ([0, 0, 1, 1, 3], True)
    """
    counts = draw_counts(weights, rng) if weights is not None else [1] * len(lengths)
    keys: dict[tuple[int, str | None, int], list[int]] = {}
    for i, length in enumerate(lengths):
        source = sources[i] if sources is not None else None
        for copy in range(counts[i]):
            keys.setdefault((bucket_of(length, edges), source, copy), []).append(i)
    batches: list[list[int]] = []
    for key in sorted(keys, key=lambda k: (k[0], k[1] or "", k[2])):
        members = keys[key]
        rng.shuffle(members)
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            if len(chunk) == batch_size or not drop_last:
                batches.append(chunk)
    rng.shuffle(batches)
    return batches


def draw_counts(weights: Sequence[float], rng: random.Random) -> list[int]:
    """How many times one epoch draws each group, given its sampling weight: the weight's whole
    part, and one more for a share of the groups of that weight equal to its fraction (drawn by
    ``rng`` over all of them, rounded half up: a fixed number, so every epoch has as many steps).

    >>> draw_counts([1.5, 1.5, 1, 0, 0.5], random.Random(0))
    [1, 2, 1, 0, 1]
    """
    counts = [0] * len(weights)
    by_weight: dict[float, list[int]] = {}
    for i, weight in enumerate(weights):
        by_weight.setdefault(float(weight), []).append(i)
    for weight, group in sorted(by_weight.items()):
        whole = int(weight)
        extra = set(rng.sample(group, math.floor((weight - whole) * len(group) + 0.5))) if weight > whole else set()
        for i in group:
            counts[i] = whole + (i in extra)
    return counts


def pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and attention mask."""
    longest = max(len(r) for r in rows)
    ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.as_tensor(list(row), dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


class Collator:
    """Examples to a :class:`TrainBatch`: prefixes, tokenisation with truncation, padding; with a
    :class:`~.state_cache.StateCache`, the cached token states instead of the encoder's."""

    def __init__(self, encoder: Encoder, *, query_max_len: int, passage_max_len: int,
                 cache: StateCache | None = None) -> None:
        self.encoder = encoder
        self.query_max_len = query_max_len
        self.passage_max_len = passage_max_len
        self.cache = cache

    def __call__(self, examples: Sequence[Example]) -> TrainBatch:
        queries = [e.query for e in examples]
        passages = [p for e in examples for p in e.passages]
        group_size = len(examples[0].passages)
        teacher = None
        if examples[0].teacher_scores is not None:
            teacher = torch.tensor([list(e.teacher_scores or ()) for e in examples], dtype=torch.float32)
        if self.cache is not None:
            q_ids, q_mask, q_states = self.cache.batch(queries, "query")
            p_ids, p_mask, p_states = self.cache.batch(passages, "document")
            return TrainBatch(q_ids, q_mask, p_ids, p_mask, group_size, teacher, q_states, p_states)
        pad_id = self.encoder.tokenizer.pad_id
        q_ids, q_mask = pad(self.encoder.tokenize(queries, role="query", max_length=self.query_max_len), pad_id)
        p_ids, p_mask = pad(self.encoder.tokenize(passages, role="document", max_length=self.passage_max_len), pad_id)
        return TrainBatch(q_ids, q_mask, p_ids, p_mask, group_size, teacher)
