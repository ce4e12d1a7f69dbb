"""From token sequences to :class:`~m3search.types.Embeddings` (no torch).

::

    plan batches (token budget) -> pad -> backend.forward(batch) -> post-process -> Embeddings

The backend runs the network (:mod:`m3search.encode.backends`); pooling, normalisation, the
special-token filtering and max-merge of lexical weights and the ragged multi-vector rows are
:mod:`.postprocess`, the same for every backend. With the ``mcls`` long strategy every CLS of a
sequence (the first and the inserted ones) is pooled into the dense vector, and the inserted
ones are no multi-vector rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..progress import progress_bar
from ..types import Embeddings, Ragged, SparseBatch, SparseVector
from . import postprocess
from .backends import EncoderBackend, ForwardOutput, TokenBatch
from .batching import plan_batches
from .checkpoints.config import EncoderConfig
from .tokenizer import TextTokenizer


def empty_embeddings(wanted: tuple[str, ...], dim: int, colbert_dim: int | None) -> Embeddings:
    """Embeddings of no text, with the ``wanted`` parts present (and empty).

    >>> empty_embeddings(("dense", "sparse"), 4, None).dense.shape
    (0, 4)
    """
    return Embeddings(
        dense=np.zeros((0, dim), dtype=np.float32) if "dense" in wanted else None,
        sparse=SparseBatch.from_vectors([]) if "sparse" in wanted else None,
        colbert=Ragged.from_arrays([], dim=colbert_dim) if "colbert" in wanted else None,
    )


@dataclass
class _Collected:
    """Each text's outputs as its batch comes back, in input order."""

    dense: np.ndarray | None
    sparse: list[SparseVector]
    colbert: list[np.ndarray]

    @classmethod
    def for_texts(cls, n: int, dim: int | None) -> _Collected:
        dense = np.zeros((n, dim), dtype=np.float32) if dim is not None else None
        return cls(dense, [postprocess.EMPTY_SPARSE] * n, [postprocess.EMPTY_ROWS] * n)

    def to_embeddings(self, wanted: tuple[str, ...], colbert_dim: int | None) -> Embeddings:
        return Embeddings(
            dense=self.dense,
            sparse=SparseBatch.from_vectors(self.sparse) if "sparse" in wanted else None,
            colbert=Ragged.from_arrays(self.colbert, dim=colbert_dim) if "colbert" in wanted else None,
        )


def encode_sequences(backend: EncoderBackend, tokenizer: TextTokenizer, config: EncoderConfig,
                     token_ids: Sequence[Sequence[int]], wanted: tuple[str, ...], *, batch_size: int,
                     max_batch_tokens: int, show_progress: bool | None = None) -> Embeddings:
    """The ``wanted`` parts of each token sequence (special tokens and prefix included), batched
    under ``batch_size`` sequences and ``max_batch_tokens`` padded tokens, in input order."""
    n = len(token_ids)
    if not n:
        return empty_embeddings(wanted, backend.hidden_size, config.colbert_dim or backend.colbert_dim)
    batches = plan_batches([len(t) for t in token_ids], max_batch_size=batch_size, max_batch_tokens=max_batch_tokens)
    collected = _Collected.for_texts(n, backend.hidden_size if "dense" in wanted else None)
    with progress_bar(n, "encode", "text", show_progress) as progress:
        for batch in batches:
            tokens = TokenBatch.pad([list(token_ids[i]) for i in batch], tokenizer.pad_id)
            _collect(collected, batch, tokens, backend.forward(tokens, wanted), config, tokenizer.special_ids)
            progress.update(len(batch))
    return collected.to_embeddings(wanted, config.colbert_dim or backend.colbert_dim)


def _collect(collected: _Collected, batch: list[int], tokens: TokenBatch, out: ForwardOutput, config: EncoderConfig,
             special_ids: np.ndarray) -> None:
    """Post-process one batch's raw outputs into the rows of its texts."""
    lengths = tokens.lengths.tolist()
    cls_positions = _cls_positions(tokens) if config.long_strategy == "mcls" else None
    if collected.dense is not None and out.hidden is not None:
        if cls_positions is not None:
            pooled = postprocess.pool(out.hidden, cls_positions.astype(np.int64), "mean")
        else:
            pooled = postprocess.pool(out.hidden, tokens.attention_mask, config.pooling)
        collected.dense[batch] = postprocess.l2_normalize(pooled) if config.normalize else pooled
    if out.sparse is not None:
        for row, i in enumerate(batch):
            length = lengths[row]
            collected.sparse[i] = postprocess.lexical_weights(tokens.input_ids[row, :length], out.sparse[row, :length],
                                                              special_ids)
    if out.colbert is not None:
        for row, i in enumerate(batch):
            rows, length = out.colbert[row], lengths[row]
            if cls_positions is not None:  # the inserted CLS rows go; the first is dropped by multi_vectors
                keep = ~cls_positions[row, :length]
                keep[0] = True
                rows, length = rows[:length][keep], int(keep.sum())
            collected.colbert[i] = postprocess.multi_vectors(rows, length, config.normalize, config.colbert_dim)


def _cls_positions(tokens: TokenBatch) -> np.ndarray:
    """Where each sequence repeats its first token (MCLS: the first CLS and the inserted ones)."""
    return (tokens.input_ids == tokens.input_ids[:, :1]) & (tokens.attention_mask == 1)
