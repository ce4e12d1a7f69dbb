"""(query, passage) pairs as a cross-encoder's input, exactly as FlagEmbedding's
``FlagReranker.compute_score`` builds them (no torch).

The query is cut to ``query_max_length`` tokens (default three quarters of ``max_length``) and
the passage to ``max_length``, each without special tokens; the pair then gets the tokenizer's
pair template (``<s> q </s></s> p </s>`` for XLM-R, ``[CLS] q [SEP] p [SEP]`` for BERT) and
loses tokens from the passage's end until it fits ``max_length`` ("only_second").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..encode.tokenizer import TextTokenizer
from ..errors import ConfigurationError, InputError


@dataclass(frozen=True)
class PairInput:
    """One pair's token ids and token types (0 for the query's segment, 1 for the passage's
    where the template has types)."""

    ids: list[int]
    type_ids: list[int]


def check_pairs(pairs: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """The pairs as ``(query, passage)`` tuples, or an :class:`InputError` naming the first bad one.

    >>> check_pairs([["q", "p"]])
    [('q', 'p')]
    >>> check_pairs([("q",)])
    Traceback (most recent call last):
    ...
    m3search.errors.InputError: pair 0 is not a (query, passage) pair of strings: ('q',)
    """
    if isinstance(pairs, (str, bytes)):
        raise InputError("pairs must be a list of (query, passage) pairs, not a single string")
    out = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or len(pair) != 2 or not all(isinstance(t, str) for t in pair):
            raise InputError(f"pair {i} is not a (query, passage) pair of strings: {pair!r}")
        out.append((pair[0], pair[1]))
    return out


def pair_inputs(tokenizer: TextTokenizer, pairs: Sequence[tuple[str, str]], *, max_length: int,
                query_max_length: int | None = None) -> list[PairInput]:
    """Every pair's model input, in input order."""
    if max_length < 4:
        raise ConfigurationError(f"max_length must be >= 4, got {max_length}")
    query_max = query_max_length if query_max_length is not None else max_length * 3 // 4
    if not 1 <= query_max < max_length:
        raise ConfigurationError(f"query_max_length must be in [1, {max_length}), got {query_max}")
    backend = tokenizer.backend
    special = backend.post_processor.num_special_tokens_to_add(True) if backend.post_processor is not None else 0
    queries = backend.encode_batch([q for q, _ in pairs], add_special_tokens=False)
    passages = backend.encode_batch([p for _, p in pairs], add_special_tokens=False)
    out = []
    for i, (query, passage) in enumerate(zip(queries, passages)):
        query.truncate(query_max)
        passage.truncate(max_length)
        over = len(query.ids) + len(passage.ids) + special - max_length
        if over > 0:
            if over >= len(passage.ids):
                raise InputError(f"pair {i}: the query leaves no room for the passage in {max_length} tokens")
            passage.truncate(len(passage.ids) - over)
        merged = backend.post_process(query, passage, add_special_tokens=True)
        out.append(PairInput(list(merged.ids), list(merged.type_ids)))
    return out


def padded(inputs: Sequence[PairInput], pad_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(input_ids, attention_mask, token_type_ids)`` of a batch, padded on the right to its longest.

    >>> ids, mask, types = padded([PairInput([0, 5, 2], [0, 0, 1]), PairInput([0, 2], [0, 1])], pad_id=1)
    >>> ids.tolist(), mask.tolist(), types.tolist()
    ([[0, 5, 2], [0, 2, 1]], [[1, 1, 1], [1, 1, 0]], [[0, 0, 1], [0, 1, 0]])
    """
    longest = max(len(x.ids) for x in inputs)
    ids = np.full((len(inputs), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(inputs), longest), dtype=np.int64)
    types = np.zeros((len(inputs), longest), dtype=np.int64)
    for row, x in enumerate(inputs):
        ids[row, : len(x.ids)] = x.ids
        mask[row, : len(x.ids)] = 1
        types[row, : len(x.type_ids)] = x.type_ids
    return ids, mask, types
