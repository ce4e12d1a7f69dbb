"""The seam between the encoder pipeline and whatever runs the network (no torch).

The pipeline (:class:`~m3search.encode.Encoder`) tokenises, plans batches, pads them into a
:class:`TokenBatch`, and hands each to ``backend.forward``. A backend returns the *raw* per-token
outputs as numpy arrays (:class:`ForwardOutput`); pooling, normalisation, special-token
filtering, the max-merge of lexical weights and ragged splitting happen in the pipeline
(:mod:`m3search.encode.postprocess`), identically for every backend.

A backend is anything with the attributes and methods of :class:`EncoderBackend`. The torch
backend (:mod:`.torch`) is the reference; ONNX Runtime, MCLS and windows attach here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class TokenBatch:
    """A right-padded batch of token ids."""

    input_ids: np.ndarray  # (B, L) int64
    attention_mask: np.ndarray  # (B, L) int64, 1 for real tokens

    @classmethod
    def pad(cls, sequences: list[list[int]], pad_id: int) -> TokenBatch:
        """Pad ``sequences`` on the right to the longest one.

        >>> b = TokenBatch.pad([[5, 6, 7], [8]], pad_id=1)
        >>> b.input_ids.tolist(), b.attention_mask.tolist(), b.lengths.tolist()
        ([[5, 6, 7], [8, 1, 1]], [[1, 1, 1], [1, 0, 0]], [3, 1])
        """
        longest = max(len(s) for s in sequences)
        ids = np.full((len(sequences), longest), pad_id, dtype=np.int64)
        mask = np.zeros((len(sequences), longest), dtype=np.int64)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return cls(ids, mask)

    @property
    def lengths(self) -> np.ndarray:
        return self.attention_mask.sum(axis=1)


@dataclass(frozen=True)
class ForwardOutput:
    """Raw per-token outputs of one batch, float32; a field is ``None`` when not asked for.

    - ``hidden``: ``(B, L, h)`` last hidden states, pooled by the pipeline into the dense vector;
    - ``sparse``: ``(B, L)`` token weights ``relu(sparse_linear(hidden))`` (times the sparse prior);
    - ``colbert``: ``(B, L, d_c)`` rows ``colbert_linear(hidden)`` for every position, un-normalised.
    """

    hidden: np.ndarray | None = None
    sparse: np.ndarray | None = None
    colbert: np.ndarray | None = None


@runtime_checkable
class EncoderBackend(Protocol):
    """What the pipeline needs of a network."""

    #: Short name recorded in the identity: "torch", "onnx", ...
    kind: str

    @property
    def hidden_size(self) -> int: ...

    @property
    def colbert_dim(self) -> int | None:
        """Width of the multi-vector rows, ``None`` without a multi-vector head."""

    @property
    def heads(self) -> tuple[str, ...]:
        """The heads present: a subset of ("sparse", "colbert")."""

    @property
    def max_positions(self) -> int:
        """The most tokens (special tokens included) one text may have."""

    def architecture(self) -> dict[str, Any]:
        """What the network is: model type, layers, hidden size, vocabulary, positions."""

    def weights_fingerprint(self) -> str:
        """A hash of the weights (backbone and heads) that ignores where they were read from."""

    def forward(self, batch: TokenBatch, parts: tuple[str, ...]) -> ForwardOutput:
        """Raw outputs for ``parts`` (any of "dense", "sparse", "colbert")."""

    def save(self, directory: Path) -> None:
        """Write the weights (HF layout plus head files) into ``directory``."""
