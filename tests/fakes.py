"""A deterministic fake encoder with no torch: the real :class:`~m3search.encode.Encoder` pipeline
over a hashing tokenizer and a numpy "network".

Tokens are hashed words (``[CLS] word... </s>``); the network gives each token fixed random
vectors, so shared words give shared tokens and lexical and late-interaction matches behave
sensibly. Special tokens have zero hidden states, so mean pooling is the normalised sum of the
words' vectors. Everything after the network (pooling, normalisation, special-token filtering,
the max-merge of lexical weights, multi-vector rows, long-text plans) is the production code.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from m3search.encode import Encoder
from m3search.encode.backends.base import ForwardOutput, TokenBatch
from m3search.encode.checkpoints.config import EncoderConfig
from m3search.encode.tokenizer import TextTokenizer
from m3search.types import PARTS

VOCAB = 5000
CLS, PAD, EOS = 0, 1, 2


def word_token(word: str) -> int:
    """The token id of one whitespace-separated word (ids 4.. are words; 0-3 are special)."""
    return 4 + zlib.crc32(word.lower().encode()) % (VOCAB - 4)


class HashTokenizer(TextTokenizer):
    """Whitespace words hashed into ``VOCAB`` ids, wrapped in ``[CLS] ... </s>``."""

    def __init__(self) -> None:  # no ``tokenizers`` backend: the methods below replace it
        self.special_ids = np.array([CLS, PAD, EOS, 3], dtype=np.int64)
        self.pad_id = PAD
        self.num_special_tokens = 2

    def __len__(self) -> int:
        return VOCAB

    def encode(self, texts: Sequence[str], *, max_length: int | None) -> list[list[int]]:
        out = []
        for text in texts:
            words = [word_token(w) for w in text.split()]
            if max_length is not None:
                words = words[: max(0, max_length - 2)]
            out.append([CLS, *words, EOS])
        return out

    def token(self, token_id: int) -> str:
        return f"t{token_id}"

    def save(self, directory: Path) -> None:
        raise NotImplementedError("the fake tokenizer is not saved")


@lru_cache(maxsize=65536)
def _vector(token: int, dim: int, salt: int) -> np.ndarray:
    return np.random.default_rng(token * 7919 + salt).normal(size=dim).astype(np.float32)


class HashNetwork:
    """A backend whose per-token outputs depend on the token alone (and, for sparse weights, a
    small per-text jitter so that scores rarely tie)."""

    kind = "torch"  # scored and batched as the reference backend is
    max_positions = 512

    def __init__(self, dim: int, colbert_dim: int, heads: tuple[str, ...], name: str) -> None:
        self.hidden_size, self.heads, self.name = dim, heads, name
        self.colbert_dim: int | None = colbert_dim if "colbert" in heads else None
        self._colbert_dim = colbert_dim

    def architecture(self) -> dict[str, Any]:
        return {"model_type": "fake"}

    def weights_fingerprint(self) -> str:
        return f"fake-{self.name}"

    def forward(self, batch: TokenBatch, parts: tuple[str, ...]) -> ForwardOutput:
        ids = batch.input_ids
        special = np.isin(ids, (CLS, PAD, EOS, 3))
        hidden = sparse = colbert = None
        if "dense" in parts:
            hidden = np.stack([np.stack([np.zeros(self.hidden_size, np.float32) if special[b, t]
                                         else _vector(int(ids[b, t]), self.hidden_size, 1)
                                         for t in range(ids.shape[1])]) for b in range(len(ids))])
        if "sparse" in parts:
            sparse = np.zeros(ids.shape, np.float32)
            for b, length in enumerate(batch.lengths):
                row = ids[b, :length]
                words = " ".join(f"t{t}" for t in row[1:-1])  # the text's tokens, as the old fake hashed its text
                jitter = (zlib.crc32(words.encode()) % 1000) / 1e5
                sparse[b, :length] = 0.1 + (row % 97) / 97 + jitter
        if "colbert" in parts:
            colbert = np.stack([np.stack([_vector(int(t), self._colbert_dim, 2) for t in row]) for row in ids])
        return ForwardOutput(hidden=hidden, sparse=sparse, colbert=colbert)

    def save(self, directory: Path) -> None:
        raise NotImplementedError("the fake network is not saved")


class FakeEncoder(Encoder):
    """The production :class:`Encoder` over :class:`HashTokenizer` and :class:`HashNetwork`.

    >>> enc = FakeEncoder()
    >>> out = enc.encode(["Mount Everest", "Everest"], parts="all")
    >>> out.dense.shape, out.colbert.dim, enc.tokenize(["Mount Everest"])[0][0], enc.decode_token(7)
    ((2, 16), 8, 0, 't7')
    """

    def __init__(self, dim: int = 16, colbert_dim: int = 8, name: str = "fake", parts: Sequence[str] = PARTS,
                 **settings: Any) -> None:
        heads = tuple(p for p in ("sparse", "colbert") if p in parts)
        config = EncoderConfig(name=name, pooling="mean", **settings)
        super().__init__(HashNetwork(dim, colbert_dim, heads, name), HashTokenizer(), config, source=name)
        self._max_length_override: int | None = None

    @property  # type: ignore[override]
    def max_length(self) -> int:
        """Settable, for tests that change the limit."""
        return self._max_length_override or super().max_length

    @max_length.setter
    def max_length(self, value: int) -> None:
        self._max_length_override = value
