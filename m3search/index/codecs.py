"""uint8 storage of unit vectors for MaxSim that keeps scores exact up to rounding (no torch).

Qdrant's ``Uint8`` datatype stores bytes and scores with the query cast to bytes too, so plain
``round(127 x) + 128`` codes add ``127 * 128 * sum(d)`` to every dot product, a term that
differs per document vector and breaks MaxSim (and any ranking). The codec makes every stored
vector's byte sum the same constant ``K``. Then for a query token ``q`` and document token ``d``

    stored_dot = 127**2 * q~.d~ + 128 * (sum(v) - 128 n) + 128 K

where ``q~``, ``d~`` are the rounded vectors, ``v`` the query's ``n`` code bytes: the offset
depends on the query token alone, so the maximum over document tokens is the same token, and
the exact MaxSim of the rounded vectors is recovered from Qdrant's score.

Three layouts (an index records its own, :data:`CURRENT_CODEC` for a new one):

- **1**: the ``D`` codes as they are, plus ``E`` compensation bytes that bring every byte sum to
  ``K`` (the query's are all 128). A unit vector's byte sum varies by up to ``127 sqrt(D) + D / 2``,
  so ``E`` is 12 bytes for 128 dimensions, 22 for 384, 36 for 1,024.
- **2**: each vector is first reflected into ``D + 1`` dimensions whose components sum to zero
  (the Householder reflection exchanging the extra axis and the all-ones direction: it keeps
  every length and dot product, so MaxSim is unchanged before rounding). The byte sums then
  differ by rounding alone (at most ``(D + 1) / 2``): one compensation byte up to 252
  dimensions, two up to 508, five for 1,024. Spreading each vector over every axis also evens
  out the rounding (the rotation that quantisers such as QuaRot and TurboQuant apply for the
  same reason).
- **3**: layout 2's reflection, rounded so that the codes themselves sum to zero: the
  components whose rounding went furthest in the direction of the excess are rounded the other
  way instead (their fractional parts lie nearest one half, so each moves by little more than
  nearest rounding would). No compensation bytes: ``D + 1`` bytes a vector (129 for 128
  dimensions, 385 for 384, 1,025 for 1,024), and the dot product of two *stored* vectors is
  exact too, which an HNSW graph over uint8 dense vectors is built from (layouts 1 and 2 add to
  it a term of each vector's compensation bytes, which distorts the graph's neighbours).

>>> d = np.array([[0.6, 0.8], [1.0, 0.0]], np.float32); q = np.array([[0.0, 1.0]], np.float32)
>>> for codec in CODECS:
...     stored, query = encode_documents(d, codec=codec), encode_queries(q, codec=codec)
...     same_sum = bool((stored.sum(axis=1) == stored.sum(axis=1)[0]).all())
...     raw = (query @ stored.T).max(axis=1).sum()
...     print(codec, stored.shape[1], same_sum, round(float(decode_maxsim(raw, query, dim=2, codec=codec)), 2))
1 4 True 0.8
2 4 True 0.8
3 3 True 0.8
>>> extra_dims(128, codec=1), extra_dims(128, codec=2), extra_dims(1024, codec=1), extra_dims(1024, codec=2)
(12, 2, 36, 6)
>>> extra_dims(128, codec=3), extra_dims(1024, codec=3)
(1, 1)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

SCALE, ZERO = 127, 128
#: The layouts (see the module docstring); an index without a record of its own uses 1.
CODECS = (1, 2, 3)
CURRENT_CODEC = 3


def _layout(dim: int, codec: int) -> tuple[int, int]:
    """``(n, B)``: how many code bytes a vector has, and the largest deviation of their sum from ``128 n``."""
    if codec == 1:
        return dim, math.ceil(SCALE * math.sqrt(dim) + dim / 2)
    if codec == 2:  # a zero sum before rounding: the rounding alone, and one for float error
        return dim + 1, (dim + 1) // 2 + 1
    if codec == 3:  # codes summing to zero: no compensation
        return dim + 1, 0
    raise ValueError(f"unknown uint8 codec {codec!r}; known: {CODECS}")


def extra_dims(dim: int, codec: int) -> int:
    """How many bytes a stored vector of ``dim`` dimensions has beyond ``dim`` in layout ``codec``."""
    width, bound = _layout(dim, codec)
    return width - dim + math.ceil(2 * bound / 255)


def _reflect(rows: np.ndarray) -> np.ndarray:
    """The Householder reflection ``H`` that swaps the last axis of ``rows``' width ``n`` and the
    all-ones direction: ``H z = z - 2 v (v . z) / (v . v)`` with ``v = e_n - ones / sqrt(n)``.
    ``H`` is its own inverse and keeps lengths and dot products; applied to ``[x, 0]``, the
    components of the result sum to zero."""
    n = rows.shape[1]
    v = np.full(n, -1 / math.sqrt(n))
    v[-1] += 1.0
    return rows - np.outer(rows @ v, v) * (2 / float(v @ v))


def _codes(vectors: np.ndarray, codec: int) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    rows = _reflect(np.concatenate([vectors, np.zeros((len(vectors), 1))], axis=1)) if codec in (2, 3) else vectors
    if codec == 3:
        return _zero_sum_round(rows * SCALE) + ZERO
    # a unit vector's codes lie in [1, 255]; clipping only catches a length a little above 1
    # (a decoded vector encoded again), never wrapping around (longer vectors are refused by the
    # index before they reach here, :func:`~m3search.index.vectors.VectorSpec.check`)
    return np.clip(np.rint(rows * SCALE) + ZERO, 0, 255).astype(np.int64)


def _zero_sum_round(scaled: np.ndarray) -> np.ndarray:
    """``scaled`` (rows summing to zero, components within +-127 up to a rounding) rounded to
    integers that sum to zero: nearest rounding, then the ``|excess|`` components rounded furthest
    in the excess's direction rounded the other way (never past +-127)."""
    rounded = np.clip(np.rint(scaled), -SCALE, SCALE)
    excess = rounded.sum(axis=1).astype(np.int64)
    # how far each component's rounding went in its row's excess direction; a component that
    # cannot move that way (at +-127) or did not round that way is never a candidate
    went = (rounded - scaled) * np.sign(excess)[:, None]
    movable = np.where(excess[:, None] > 0, rounded > -SCALE, rounded < SCALE)
    went = np.where(movable & (went > 0), went, -np.inf)
    rank = np.argsort(np.argsort(-went, axis=1, kind="stable"), axis=1, kind="stable")
    rounded -= np.sign(excess)[:, None] * ((rank < np.abs(excess)[:, None]) & np.isfinite(went))
    return rounded.astype(np.int64)


def _one_or_many(transform: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``transform`` of ``(n, D)`` rows applied to one ``(D,)`` vector too (a row of one)."""

    @functools.wraps(transform)
    def apply(vectors: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        vectors = np.asarray(vectors)
        if vectors.ndim == 1:
            return transform(vectors[None], *args, **kwargs)[0]
        return transform(vectors, *args, **kwargs)

    return apply


@_one_or_many
def encode_documents(vectors: np.ndarray, *, codec: int) -> np.ndarray:
    """``(n, D)`` unit vectors (or one ``(D,)``) -> ``(n, D + E)`` bytes (as float32, which Qdrant's API takes)."""
    dim = np.asarray(vectors).shape[1]
    codes = _codes(vectors, codec)
    width, bound = _layout(dim, codec)
    fill = ZERO * width + bound - codes.sum(axis=1)  # in [0, 2 * bound], spread over the compensation bytes
    slots = extra_dims(dim, codec) - (width - dim)
    extras = np.clip(fill[:, None] - 255 * np.arange(slots)[None, :], 0, 255)
    return np.concatenate([codes, extras], axis=1).astype(np.float32)


def encode_queries(vectors: np.ndarray, *, codec: int) -> np.ndarray:
    """``(t, D)`` unit query vectors -> ``(t, D + E)`` bytes, compensation bytes all 128."""
    dim = np.asarray(vectors).shape[1]
    codes = _codes(vectors, codec)
    slots = extra_dims(dim, codec) - (_layout(dim, codec)[0] - dim)
    return np.concatenate([codes, np.full((len(codes), slots), ZERO)], axis=1).astype(np.float32)


def query_offset(query_bytes: np.ndarray, dim: int, *, codec: int) -> float:
    """The part of every raw MaxSim score of this query that the byte encoding adds (computed
    once per query, subtracted from each hit's score)."""
    width, bound = _layout(dim, codec)
    return float((ZERO * (query_bytes[:, :width].sum(axis=1) + bound)).sum())


def decode_maxsim(raw_score: float, query_bytes: np.ndarray, dim: int, offset: float | None = None, *,
                  codec: int) -> float:
    """The sum over query tokens of ``max_j q~_i . d~_j`` from Qdrant's raw MaxSim score
    (``offset``: :func:`query_offset`, when already known)."""
    offset = query_offset(query_bytes, dim, codec=codec) if offset is None else offset
    return float((raw_score - offset) / SCALE**2)


@_one_or_many
def decode_documents(stored: np.ndarray, dim: int, *, codec: int) -> np.ndarray:
    """Stored bytes (rows, or one vector) -> the rounded unit vectors they encode (reflected back to ``dim`` dimensions)."""
    width = _layout(dim, codec)[0]
    rows = (np.asarray(stored, dtype=np.float64)[:, :width] - ZERO) / SCALE
    if codec in (2, 3):
        rows = _reflect(rows)[:, :dim]
    return rows.astype(np.float32)
