"""uint8 storage of unit vectors for MaxSim that keeps scores exact up to rounding (no torch).

Qdrant's ``Uint8`` datatype stores bytes and scores with the query cast to bytes too, so plain
``round(127 x) + 128`` codes add ``127 * 128 * sum(d)`` to every dot product, a term that
differs per document token and breaks MaxSim. This codec appends ``E`` compensation bytes to
each document vector so that every stored vector's byte sum is the same constant ``K``; the
query's compensation bytes are all 128. Then for a query token ``q`` and document token ``d``

    stored_dot = 127**2 * q~.d~ + 128 * (sum(v) - 128 D) + 128 K

where ``q~``, ``d~`` are the rounded vectors and ``v`` the query's bytes: the offset depends on
the query token alone, so the maximum over document tokens is the same token, and the exact
MaxSim of the rounded vectors is recovered from Qdrant's score. ``E`` is small: 22 bytes for
384 dimensions (the byte sum of a unit vector varies by at most ``127 sqrt(D) + D / 2``).

>>> d = np.array([[0.6, 0.8], [1.0, 0.0]], np.float32); q = np.array([[0.0, 1.0]], np.float32)
>>> stored, query = encode_documents(d), encode_queries(q)
>>> stored.shape[1] == 2 + extra_dims(2) and bool((stored.sum(axis=1) == stored.sum(axis=1)[0]).all())
True
>>> raw = (query @ stored.T).max(axis=1).sum()
>>> round(float(decode_maxsim(raw, query, dim=2)), 2)  # max(0.8, 0.0)
0.8
"""

from __future__ import annotations

import math

import numpy as np

SCALE, ZERO = 127, 128


def _bound(dim: int) -> int:
    """Largest deviation of a unit vector's byte sum from ``128 * dim``."""
    return math.ceil(SCALE * math.sqrt(dim) + dim / 2)


def extra_dims(dim: int) -> int:
    """How many compensation bytes vectors of ``dim`` dimensions need."""
    return math.ceil(2 * _bound(dim) / 255)


def _target(dim: int) -> int:
    return ZERO * dim + _bound(dim)  # K: the byte sum of every stored vector, compensation included


def encode_documents(vectors: np.ndarray) -> np.ndarray:
    """``(n, D)`` unit vectors -> ``(n, D + E)`` bytes (as float32, which Qdrant's API takes)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    codes = (np.rint(vectors * SCALE) + ZERO).astype(np.int64)
    fill = _target(dim) - codes.sum(axis=1)  # in [0, 2 * bound], spread over the extra bytes
    extras = np.clip(fill[:, None] - 255 * np.arange(extra_dims(dim))[None, :], 0, 255)
    return np.concatenate([codes, extras], axis=1).astype(np.float32)


def encode_queries(vectors: np.ndarray) -> np.ndarray:
    """``(t, D)`` unit query vectors -> ``(t, D + E)`` bytes, compensation bytes all 128."""
    vectors = np.asarray(vectors, dtype=np.float32)
    t, dim = vectors.shape
    codes = np.rint(vectors * SCALE) + ZERO
    return np.concatenate([codes, np.full((t, extra_dims(dim)), ZERO)], axis=1).astype(np.float32)


def query_offset(query_bytes: np.ndarray, dim: int) -> float:
    """The part of every raw MaxSim score of this query that the byte encoding adds (computed
    once per query, subtracted from each hit's score)."""
    offsets = ZERO * (query_bytes[:, :dim].sum(axis=1) - ZERO * dim) + ZERO * _target(dim)
    return float(offsets.sum())


def decode_maxsim(raw_score: float, query_bytes: np.ndarray, dim: int, offset: float | None = None) -> float:
    """The sum over query tokens of ``max_j q~_i . d~_j`` from Qdrant's raw MaxSim score
    (``offset``: :func:`query_offset`, when already known)."""
    offset = query_offset(query_bytes, dim) if offset is None else offset
    return float((raw_score - offset) / SCALE**2)


def decode_documents(stored: np.ndarray, dim: int) -> np.ndarray:
    """Stored bytes -> the rounded unit vectors they encode."""
    return ((np.asarray(stored, dtype=np.float32)[:, :dim] - ZERO) / SCALE).astype(np.float32)
