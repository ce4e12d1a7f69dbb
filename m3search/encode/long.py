"""Texts longer than the model's window: MCLS and overlapping windows (no torch).

Both work on the token ids of the whole text (``[CLS] prefix body [SEP]``, as the tokenizer gives
them untruncated) and hand the network ordinary sequences, so they share the token-budget
batching of everything else.

**MCLS** (the paper's Multiple CLS, for CLS-pooled models with long positions such as BGE-M3's
8,192): a CLS token is inserted before every ``interval``-th body token. The inserted tokens take
sequential positions like any other token and attend and are attended to fully, as the first CLS
does: the model reads them as it reads its own CLS. The dense vector is the mean of all CLS
states (then normalised); the inserted tokens are dropped from the sparse weights (CLS is a
special token) and from the multi-vector rows. A text of at most ``interval`` body tokens gets
no inserted token: exactly plain CLS pooling.

**Windows** (for models with short positions, like the offline e5-small's 512): the body is
cut into windows of ``size`` tokens in all (special tokens and the role's prefix included, so
each window is a whole input the model was trained on) starting every ``stride`` body tokens
(default: an overlap of 64 tokens, or a quarter of the window when that is less). Each window is encoded like a text; then, per text: dense = the
mean of the window vectors weighted by their body tokens (then normalised); sparse = the maximum
weight per token id over the windows; multi-vector = each body token's row once (from the first
window that holds it after the previous window's end), with the prefix rows of the first window
and the closing row of the last: the rows an unlimited model would give, one per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..types import Embeddings, Ragged, SparseBatch, SparseVector
from . import postprocess

#: Default overlap of consecutive windows, in tokens.
DEFAULT_OVERLAP = 64


def insert_cls(ids: Sequence[int], interval: int, limit: int | None) -> list[int]:
    """``[CLS] body [SEP]`` with a CLS before every ``interval``-th body token, cut to ``limit``.

    >>> insert_cls([0, 5, 6, 7, 8, 9, 2], interval=2, limit=None)
    [0, 5, 6, 0, 7, 8, 0, 9, 2]
    >>> insert_cls([0, 5, 6, 7, 8, 9, 2], interval=2, limit=6)
    [0, 5, 6, 0, 7, 2]
    """
    cls, eos, body = ids[0], ids[-1], list(ids[1:-1])
    out = [cls]
    for j, token in enumerate(body):
        if limit is not None and len(out) + (2 if j and j % interval == 0 else 1) > limit - 1:
            break
        if j and j % interval == 0:
            out.append(cls)
        out.append(token)
    out.append(eos)
    return out


@dataclass(frozen=True)
class Window:
    """One window of a text: which text, where its body starts, and which body tokens it keeps."""

    text: int
    start: int  # first body token in the window
    keep_from: int  # body tokens [keep_from, keep_to) are taken from this window
    keep_to: int


@dataclass(frozen=True)
class WindowPlan:
    """The sequences to encode for a batch of texts, and how to merge them back."""

    sequences: list[list[int]]
    windows: list[Window]
    prefix_lengths: list[int]  # per text: prefix tokens after CLS, repeated in every window
    count: int  # number of texts

    def merge(self, out: Embeddings, normalize: bool, keep_windows: bool = False) -> Embeddings:
        """One embedding per text from the windows' embeddings (see the module's description);
        ``keep_windows`` also returns every window's dense vector per text (``dense_windows``)."""
        by_text: list[list[int]] = [[] for _ in range(self.count)]
        for row, window in enumerate(self.windows):
            by_text[window.text].append(row)
        dense = sparse = colbert = None
        if out.dense is not None:
            dense = np.zeros((self.count, out.dense.shape[1]), np.float32)
            for i, rows in enumerate(by_text):
                weights = np.array([max(1, self.windows[r].keep_to - self.windows[r].keep_from) for r in rows],
                                   np.float32)
                # weight by the tokens each window brings, so overlaps are not counted twice
                mean = (out.dense[rows] * weights[:, None]).sum(axis=0) / weights.sum()
                dense[i] = postprocess.l2_normalize(mean[None])[0] if normalize else mean
        if out.sparse is not None:
            vectors = []
            for rows in by_text:
                ids = np.concatenate([out.sparse[r].ids for r in rows])
                weights = np.concatenate([out.sparse[r].weights for r in rows])
                vectors.append(_max_merge(ids, weights))
            sparse = SparseBatch.from_vectors(vectors)
        if out.colbert is not None:
            arrays = []
            for i, rows in enumerate(by_text):
                p = self.prefix_lengths[i]
                first, last = out.colbert[rows[0]], out.colbert[rows[-1]]
                pieces = [first[:p]]
                for r in rows:
                    w = self.windows[r]
                    pieces.append(out.colbert[r][p + w.keep_from - w.start : p + w.keep_to - w.start])
                pieces.append(last[-1:])
                arrays.append(np.concatenate(pieces))
            colbert = Ragged.from_arrays(arrays, dim=out.colbert.dim)
        windows = None
        if keep_windows and out.dense is not None:
            windows = Ragged.from_arrays([out.dense[rows] for rows in by_text], dim=out.dense.shape[1])
        return Embeddings(dense=dense, sparse=sparse, colbert=colbert, dense_windows=windows)


def plan_windows(full_ids: Sequence[Sequence[int]], prefix_lengths: Sequence[int], size: int,
                 stride: int | None) -> WindowPlan:
    """Cut each text (its untruncated ids) into windows of ``size`` tokens every ``stride`` body tokens.

    >>> plan = plan_windows([[0, 5, 6, 7, 8, 9, 2]], [0], size=4, stride=2)
    >>> plan.sequences, [(w.start, w.keep_from, w.keep_to) for w in plan.windows]
    ([[0, 5, 6, 2], [0, 7, 8, 2], [0, 8, 9, 2]], [(0, 0, 2), (2, 2, 4), (3, 4, 5)])
    """
    sequences: list[list[int]] = []
    windows: list[Window] = []
    for i, (ids, p) in enumerate(zip(full_ids, prefix_lengths)):
        cls, eos, content = ids[0], ids[-1], list(ids[1:-1])
        prefix, body = content[:p], content[p:]
        chunk = max(1, size - 2 - p)
        step = min(stride or chunk - min(DEFAULT_OVERLAP, chunk // 4), chunk)
        starts = list(range(0, max(len(body) - chunk, 0) + 1, step))
        if starts[-1] + chunk < len(body):
            starts.append(len(body) - chunk)
        covered = 0
        for start in starts:
            end = min(start + chunk, len(body))
            sequences.append([cls, *prefix, *body[start:end], eos])
            windows.append(Window(i, start, covered, end))
            covered = end
    return WindowPlan(sequences, windows, list(prefix_lengths), len(full_ids))


def _max_merge(ids: np.ndarray, weights: np.ndarray) -> SparseVector:
    unique, inverse = np.unique(ids, return_inverse=True)
    best = np.zeros(len(unique), np.float32)
    np.maximum.at(best, inverse, weights.astype(np.float32))
    return SparseVector(unique.astype(np.int64), best)
