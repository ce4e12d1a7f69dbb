"""uint8 storage of unit vectors for MaxSim that keeps scores exact up to rounding (no torch).

Qdrant's ``Uint8`` datatype stores bytes and scores with the query cast to bytes too, so plain
``round(127 x) + 128`` codes add ``127 * 128 * sum(d)`` to every dot product, a term that
differs per document vector and breaks MaxSim (and any ranking). The codec makes every stored
vector's byte sum the same constant ``K``. Then for a query token ``q`` and document token ``d``

    stored_dot = S**2 * q~.d~ + 128 * (sum(v) - 128 n) + 128 K

where ``S`` is the layout's :func:`scale` (127 up to layout 3), ``q~``, ``d~`` the rounded vectors, ``v`` the query's ``n`` code bytes: the offset
depends on the query token alone, so the maximum over document tokens is the same token, and
the exact MaxSim of the rounded vectors is recovered from Qdrant's score.

Four layouts (an index records its own, :data:`CURRENT_CODEC` for a new one):

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
- **4**: layout 3 after a fixed rotation, with finer codes. Rows are first rotated by
  :func:`rotation` (random signs, an orthonormal DCT, twice: every vector's length is then
  spread over all axes, whatever axes a head favours), then reflected and rounded as in layout 3,
  at a scale :func:`scale` that puts a code's full range (+-127) at 5 standard deviations of a
  spread component rather than at a length of 1: 288 codes per unit for 128 dimensions instead
  of 127, 498 for 384, 813 for 1,024. Dot products are 2.3x (128 dimensions) to 6x (1,024) more
  precise for the same ``D + 1`` bytes. A component beyond the range is clipped (and the codes
  still sum to zero): about 1 in a million components of random unit vectors; on real
  paragraphs, 2 in 10,000 of the offline model's 384-wide rows (as for random vectors), 3 of
  the compact head's 600,000 rows, none of 22,193 dense vectors (at 4.5 deviations 0.7% of the
  dense vectors had one, and a clipped vector rounds worse than in layout 3). Below 25
  dimensions, where the scale would not be finer, layout 4 is layout 3. The rotation is defined here, not drawn from a generator, so it is the same in every
  version.

>>> d = np.array([[0.6, 0.8], [1.0, 0.0]], np.float32); q = np.array([[0.0, 1.0]], np.float32)
>>> for codec in CODECS:
...     stored, query = encode_documents(d, codec=codec), encode_queries(q, codec=codec)
...     same_sum = bool((stored.sum(axis=1) == stored.sum(axis=1)[0]).all())
...     raw = (query @ stored.T).max(axis=1).sum()
...     print(codec, stored.shape[1], same_sum, round(float(decode_maxsim(raw, query, dim=2, codec=codec)), 2))
1 4 True 0.8
2 4 True 0.8
3 3 True 0.8
4 3 True 0.8
>>> extra_dims(128, codec=1), extra_dims(128, codec=2), extra_dims(1024, codec=1), extra_dims(1024, codec=2)
(12, 2, 36, 6)
>>> extra_dims(128, codec=3), extra_dims(1024, codec=4), scale(128, codec=3), scale(128, codec=4)
(1, 1, 127, 288)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

SCALE, ZERO = 127, 128  # the largest code (in either direction) and the byte of code 0
#: The layouts (see the module docstring); an index without a record of its own uses 1.
CODECS = (1, 2, 3, 4)
CURRENT_CODEC = 4
#: layout 4: the full code range at this many standard deviations of a rotated component (4.5
#: clipped 0.7% of the offline model's dense vectors on real paragraphs, 5 none)
SPREAD_SIGMAS = 5.0


def scale(dim: int, *, codec: int) -> int:
    """Codes per unit of a component in layout ``codec`` for ``dim``-wide vectors: 127 (a unit
    vector's largest possible component at the last code) up to layout 3; layout 4 sets the last
    code at :data:`SPREAD_SIGMAS` standard deviations of one of the ``dim + 1`` rotated components
    (never coarser than 127: below 25 dimensions, layout 3's scale)."""
    if codec < 4:
        return SCALE
    return max(SCALE, round(SCALE * math.sqrt(dim + 1) / SPREAD_SIGMAS))


def _signs(n: int, stream: int) -> np.ndarray:
    """``n`` signs from SplitMix64 hashes of ``(stream, i)``, as a format: the same on every
    platform and numpy version (numpy's generators promise no stream across versions)."""
    with np.errstate(over="ignore"):
        z = (np.arange(n, dtype=np.uint64) + np.uint64(stream << 32)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return np.where(z >> np.uint64(63), -1.0, 1.0)


def _rotates(dim: int, codec: int) -> bool:
    """Whether layout ``codec`` rotates ``dim``-wide vectors: layout 4 where its scale is finer than
    layout 3's (from 25 dimensions; narrower vectors gain nothing and are stored as in layout 3)."""
    return codec == 4 and scale(dim, codec=codec) > SCALE


@functools.lru_cache(maxsize=8)
def rotation(dim: int) -> np.ndarray:
    """Layout 4's fixed orthogonal ``(dim, dim)`` rotation ``M`` (rows are stored as ``x M^T``):
    random signs then the orthonormal DCT-II, twice.

    >>> m = rotation(5); bool(np.allclose(m @ m.T, np.eye(5)))
    True
    """
    k, i = np.meshgrid(np.arange(dim), np.arange(dim), indexing="ij")
    dct = np.cos(np.pi * (2 * i + 1) * k / (2 * dim)) * math.sqrt(2 / dim)
    dct[0] /= math.sqrt(2)
    matrix = dct @ (_signs(dim, 2)[:, None] * dct) * _signs(dim, 1)[None, :]
    matrix.setflags(write=False)  # cached: one format for the whole process
    return matrix


def _layout(dim: int, codec: int) -> tuple[int, int]:
    """``(n, B)``: how many code bytes a vector has, and the largest deviation of their sum from ``128 n``."""
    if codec == 1:
        return dim, math.ceil(SCALE * math.sqrt(dim) + dim / 2)
    if codec == 2:  # a zero sum before rounding: the rounding alone, and one for float error
        return dim + 1, (dim + 1) // 2 + 1
    if codec in (3, 4):  # codes summing to zero: no compensation
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
    if _rotates(vectors.shape[1], codec):
        vectors = vectors @ rotation(vectors.shape[1]).T
    rows = _reflect(np.concatenate([vectors, np.zeros((len(vectors), 1))], axis=1)) if codec > 1 else vectors
    if codec >= 3:
        return _zero_sum_round(rows * scale(vectors.shape[1], codec=codec)) + ZERO
    # a unit vector's codes lie in [1, 255]; clipping only catches a length a little above 1
    # (a decoded vector encoded again), never wrapping around (longer vectors are refused by the
    # index before they reach here, :func:`~m3search.index.vectors.VectorSpec.check`)
    return np.clip(np.rint(rows * SCALE) + ZERO, 0, 255).astype(np.int64)


def _zero_sum_round(scaled: np.ndarray) -> np.ndarray:
    """``scaled`` (rows summing to zero) rounded to integers within +-127 that sum to zero:
    nearest rounding, then the ``|excess|`` components rounded furthest in the excess's direction
    rounded the other way (never past +-127). Where clipping (layout 4) leaves more excess than
    such components, further passes move the components that cost least, one code each, until
    the sum is zero (there is always room: codes summing to a positive excess cannot all be -127).
    """
    rounded = np.clip(np.rint(scaled), -SCALE, SCALE)
    first = True
    while (excess := rounded.sum(axis=1).astype(np.int64)).any():
        # how far each component's rounding went in its row's excess direction; a component that
        # cannot move that way (at +-127), or in the first pass did not round that way, is no candidate
        went = (rounded - scaled) * np.sign(excess)[:, None]
        movable = np.where(excess[:, None] > 0, rounded > -SCALE, rounded < SCALE) & (went > 0 if first else True)
        went = np.where(movable, went, -np.inf)
        rank = np.argsort(np.argsort(-went, axis=1, kind="stable"), axis=1, kind="stable")
        rounded -= np.sign(excess)[:, None] * ((rank < np.abs(excess)[:, None]) & np.isfinite(went))
        first = False
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
    return float((raw_score - offset) / scale(dim, codec=codec) ** 2)


def rounded(vectors: np.ndarray, *, codec: int) -> np.ndarray:
    """``(n, D)`` unit vectors as layout ``codec`` rounds them: what an index reads back, and
    what the engine compares (a query's codes are a document's).

    >>> [round(float(x), 2) for x in rounded(np.array([[0.6, 0.8]]), codec=4)[0]]
    [0.6, 0.8]
    """
    vectors = np.asarray(vectors)
    return decode_documents(encode_documents(vectors, codec=codec), vectors.shape[-1], codec=codec)


@_one_or_many
def decode_documents(stored: np.ndarray, dim: int, *, codec: int) -> np.ndarray:
    """Stored bytes (rows, or one vector) -> the rounded unit vectors they encode (reflected back to ``dim`` dimensions)."""
    width = _layout(dim, codec)[0]
    rows = (np.asarray(stored, dtype=np.float64)[:, :width] - ZERO) / scale(dim, codec=codec)
    if codec > 1:
        rows = _reflect(rows)[:, :dim]
    if _rotates(dim, codec):
        rows = rows @ rotation(dim)
    return rows.astype(np.float32)
