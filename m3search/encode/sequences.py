"""From texts to the token sequences the network sees (no torch).

The role's prefix (``"query: "`` for e5), tokenisation with special tokens, truncation or a
typed error for a text that is too long, and the long-text strategies of
:mod:`m3search.encode.long`: ``truncate`` (one sequence per text), ``mcls`` (one sequence with
a CLS inserted every ``mcls_interval`` tokens) and ``windows`` (several sequences per text,
merged back into one embedding by the returned ``finish``).

>>> from m3search.encode.tokenizer import TextTokenizer
>>> from m3search.encode.checkpoints.config import default_config
>>> from pathlib import Path
>>> path = Path("tests/fixtures/tiny-m3")
>>> tokenizer, config = TextTokenizer.load(path), default_config(path, "bge-m3")
>>> ids, finish = plan(tokenizer, config, ["Mount Everest"], role="query", limit=512, model_max_length=512)
>>> ids == tokenize(tokenizer, config, ["Mount Everest"], role="query", limit=512)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigurationError, InputError, InputTooLongError, MissingHeadError
from ..types import PARTS, Embeddings
from . import long
from .checkpoints.config import COLBERT_FILE, SPARSE_FILE, EncoderConfig
from .tokenizer import TextTokenizer

if TYPE_CHECKING:
    from ..protocols import Role

#: Turns the embeddings of a plan's sequences into one per text.
Finish = Callable[[Embeddings], Embeddings]


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or a :class:`TypeError` / :class:`~m3search.errors.InputError` naming the bad one.

    >>> check_texts(["a", 3])
    Traceback (most recent call last):
    ...
    TypeError: texts[1] is int, not str
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list of strings, not a single string: wrap it in a list")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(f"texts[{i}] holds a lone surrogate ({exc.object[exc.start:exc.end]!r} at "
                             f"character {exc.start}): not valid Unicode text") from exc
    return texts


def prefixed(config: EncoderConfig, texts: Sequence[str], role: Role) -> list[str]:
    """The texts as the model reads them: with the role's prefix (``"query: "`` for e5)."""
    prefix = config.query_prefix if role == "query" else config.document_prefix
    return [prefix + t for t in texts]


def tokenize(tokenizer: TextTokenizer, config: EncoderConfig, texts: Sequence[str], *, role: Role, limit: int,
             truncation: bool = True) -> list[list[int]]:
    """Token ids (special tokens included) of each text with the role's prefix, cut at ``limit``
    tokens, or an :class:`~m3search.errors.InputTooLongError` without ``truncation``."""
    texts = check_texts(texts)
    if not texts:
        return []
    encoded = tokenizer.encode(prefixed(config, texts, role), max_length=limit if truncation else None)
    if not truncation:
        for i, ids in enumerate(encoded):
            if len(ids) > limit:
                raise InputTooLongError(
                    f"text {i} has {len(ids)} tokens, more than max_length={limit}; "
                    "pass truncation=True to cut it, or a larger max_length"
                )
    return encoded


def full_tokens(tokenizer: TextTokenizer, config: EncoderConfig, texts: Sequence[str], role: Role) -> list[list[int]]:
    """Token ids of each whole text with the role's prefix, never truncated."""
    texts = check_texts(texts)
    return tokenizer.encode(prefixed(config, texts, role), max_length=None) if texts else []


def prefix_ids(tokenizer: TextTokenizer, config: EncoderConfig, role: Role) -> list[int]:
    """The tokens the role's prefix adds after CLS, repeated at the start of every window."""
    (prefix,) = prefixed(config, [""], role)
    return tokenizer.encode([prefix], max_length=None)[0][1:-1] if prefix else []


def plan(tokenizer: TextTokenizer, config: EncoderConfig, texts: Sequence[str], *, role: Role, limit: int,
         model_max_length: int, truncation: bool = True) -> tuple[list[list[int]], Finish]:
    """The sequences the network must see for ``texts`` under ``config.long_strategy``, and the
    function that turns their embeddings into one per text."""
    if role not in ("query", "document"):
        raise ConfigurationError(f"role must be 'query' or 'document', got {role!r}")
    strategy = config.long_strategy
    if strategy == "truncate":
        return tokenize(tokenizer, config, texts, role=role, limit=limit, truncation=truncation), _same
    full = full_tokens(tokenizer, config, texts, role)
    if strategy == "mcls":
        return _mcls_sequences(full, config.mcls_interval, limit, truncation), _same
    size = min(config.window_size or limit, model_max_length)
    prefix = prefix_ids(tokenizer, config, role)
    # the prefix is repeated in every window when the text's tokens start with it (they do,
    # unless the tokenizer merged its last token with the text's first)
    lengths = [len(prefix) if list(t[1 : 1 + len(prefix)]) == prefix else 0 for t in full]
    windows = long.plan_windows(full, lengths, size, config.window_stride)
    keep = config.window_dense == "best"
    return windows.sequences, lambda out: windows.merge(out, config.normalize, keep_windows=keep)


def _mcls_sequences(full: list[list[int]], interval: int, limit: int, truncation: bool) -> list[list[int]]:
    """Each text with a CLS inserted every ``interval`` body tokens, cut at ``limit``."""
    if not truncation:
        for i, t in enumerate(full):
            length = len(t) + max(len(t) - 3, 0) // interval  # a CLS before body token interval, 2*interval, ...
            if length > limit:
                raise InputTooLongError(f"text {i} has {length} tokens with its inserted CLS tokens, "
                                        f"more than max_length={limit}")
    return [long.insert_cls(t, interval, limit) for t in full]


def _same(out: Embeddings) -> Embeddings:
    return out


def check_token_ids(token_ids: Sequence[Sequence[int]], vocab_size: int) -> None:
    """Refuse token ids that are not integers of the vocabulary ``[0, vocab_size)``: a boolean
    or a float would otherwise be read as an id.

    >>> check_token_ids([[0, True, 2]], 10)
    Traceback (most recent call last):
    ...
    m3search.errors.ConfigurationError: token_ids[0][1] is True: token ids are integers of the vocabulary [0, 10)
    """
    for i, row in enumerate(token_ids):
        for j, token in enumerate(row):
            integer = isinstance(token, (int, np.integer)) and not isinstance(token, (bool, np.bool_))
            if not integer or not 0 <= token < vocab_size:
                raise ConfigurationError(f"token_ids[{i}][{j}] is {token!r}: token ids are integers of the "
                                         f"vocabulary [0, {vocab_size})")


def requested_parts(parts: Iterable[str] | str, available: Sequence[str], model: str) -> tuple[str, ...]:
    """The parts asked for (``"all"``, one name or several), in canonical order; a
    :class:`ConfigurationError` for an unknown one, a :class:`MissingHeadError` for a head the
    model lacks.

    >>> requested_parts(["colbert", "dense"], ("dense", "sparse", "colbert"), "m")
    ('dense', 'colbert')
    """
    requested = PARTS if parts == "all" else ((parts,) if isinstance(parts, str) else tuple(parts))
    if not requested:
        raise ConfigurationError("parts is empty: ask for at least one of 'dense', 'sparse', 'colbert'")
    unknown = [p for p in requested if p not in PARTS]
    if unknown:
        raise ConfigurationError(f"unknown part(s) {unknown}; choose from {list(PARTS)} or 'all'")
    missing = [p for p in requested if p not in available]
    if missing:
        files = {"sparse": SPARSE_FILE, "colbert": COLBERT_FILE}
        raise MissingHeadError(
            f"model {model!r} has no {' or '.join(missing)} head "
            f"({', '.join(files[p] for p in missing)} not found); it produces {list(available)}. "
            "Load a BGE-M3 checkpoint, or attach untrained heads with Encoder.add_heads() to train them."
        )
    return tuple(p for p in PARTS if p in requested)
