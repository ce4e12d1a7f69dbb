"""The shared vocabulary: batches of embeddings, pure numpy (no torch).

An :class:`Embeddings` is always a batch. Each part is ``None`` when it was not
requested, and never changes type because of a flag:

- ``dense``: ``(n, d)`` float32, L2-normalised rows;
- ``sparse``: :class:`SparseBatch`, a CSR matrix of integer token ids and float32 weights;
- ``colbert``: :class:`Ragged`, ``(total_tokens, d)`` float32 rows plus offsets.

:data:`FIELDS` lists every field of :class:`Embeddings` with its layout and the part it goes
with; saving, loading and moving embeddings between processes go by this table, so a new
field is one row of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import InputError

PARTS: tuple[str, ...] = ("dense", "sparse", "colbert")
#: ``{query_id: {doc_id: score}}``: what a search run hands to evaluation (ir-measures' format).
Run = dict[str, dict[str, float]]
#: ``{query_id: {doc_id: relevance grade}}``.
Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class SparseVector:
    """One text's lexical weights: sorted unique token ids and their weights.

    >>> v = SparseVector(np.array([5, 9]), np.array([0.5, 0.25], dtype=np.float32))
    >>> v.to_dict()
    {5: 0.5, 9: 0.25}
    """

    ids: np.ndarray
    weights: np.ndarray

    def to_dict(self) -> dict[int, float]:
        """Token id -> weight, as plain Python numbers."""
        return {int(i): float(w) for i, w in zip(self.ids, self.weights)}

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class SparseBatch:
    """Sparse vectors of a batch in CSR form (``indptr``, ``indices``, ``values``).

    >>> b = SparseBatch.from_vectors([SparseVector(np.array([3]), np.array([1.0], dtype=np.float32)),
    ...                               SparseVector(np.array([], dtype=np.int64), np.array([], dtype=np.float32))])
    >>> len(b), b[0].to_dict(), b[1].to_dict()
    (2, {3: 1.0}, {})
    """

    indptr: np.ndarray  # (n + 1,) int64
    indices: np.ndarray  # (nnz,) int64, sorted within each row
    values: np.ndarray  # (nnz,) float32

    @classmethod
    def from_vectors(cls, vectors: Sequence[SparseVector]) -> SparseBatch:
        lengths = np.array([len(v) for v in vectors], dtype=np.int64)
        indptr = np.zeros(len(vectors) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        if vectors:
            indices = np.concatenate([np.asarray(v.ids, dtype=np.int64) for v in vectors])
            values = np.concatenate([np.asarray(v.weights, dtype=np.float32) for v in vectors])
        else:
            indices = np.zeros(0, dtype=np.int64)
            values = np.zeros(0, dtype=np.float32)
        return cls(indptr, indices, values)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, i: int) -> SparseVector:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        a, b = self.indptr[i], self.indptr[i + 1]
        return SparseVector(self.indices[a:b], self.values[a:b])

    def __iter__(self) -> Iterator[SparseVector]:
        return (self[i] for i in range(len(self)))

    def take(self, rows: Sequence[int]) -> SparseBatch:
        """The batch of the given rows, in that order."""
        return SparseBatch.from_vectors([self[int(r)] for r in rows])


@dataclass(frozen=True)
class Ragged:
    """A batch of variable-length matrices: ``data`` rows ``offsets[i]:offsets[i+1]`` are item i.

    >>> r = Ragged.from_arrays([np.ones((2, 3), np.float32), np.zeros((1, 3), np.float32)])
    >>> len(r), r[0].shape, r[1].shape, r.lengths.tolist()
    (2, (2, 3), (1, 3), [2, 1])
    """

    data: np.ndarray  # (total_rows, d) float32
    offsets: np.ndarray  # (n + 1,) int64

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray], dim: int | None = None) -> Ragged:
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum([len(a) for a in arrays], out=offsets[1:])
        if arrays:
            data = np.concatenate([np.asarray(a, dtype=np.float32) for a in arrays])
        else:
            data = np.zeros((0, dim or 0), dtype=np.float32)
        return cls(data, offsets)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def dim(self) -> int:
        return int(self.data.shape[1])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        return self.data[self.offsets[i] : self.offsets[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def take(self, rows: Sequence[int]) -> Ragged:
        """The batch of the given rows, in that order."""
        return Ragged.from_arrays([self[int(r)] for r in rows], dim=self.dim)


Layout = Literal["matrix", "sparse", "ragged"]


@dataclass(frozen=True)
class EmbeddingField:
    """One field of :class:`Embeddings`: its name, its layout (``matrix``: an ``(n, d)`` array;
    ``sparse``: a :class:`SparseBatch`; ``ragged``: a :class:`Ragged`) and the part it goes with
    (kept and dropped together with it)."""

    name: str
    layout: Layout
    part: str


#: Every field of :class:`Embeddings`: the three parts, and ``dense_windows`` (with
#: ``long_strategy="windows"`` and ``window_dense="best"``, every window's dense vector per text,
#: so that an index can score a document by its best window; see :mod:`m3search.encode.long`).
FIELDS: tuple[EmbeddingField, ...] = (
    EmbeddingField("dense", "matrix", "dense"),
    EmbeddingField("sparse", "sparse", "sparse"),
    EmbeddingField("colbert", "ragged", "colbert"),
    EmbeddingField("dense_windows", "ragged", "dense"),
)


@dataclass(frozen=True)
class Embeddings:
    """A batch of encoded texts; a part is ``None`` when it was not requested.

    >>> e = Embeddings(dense=np.eye(2, dtype=np.float32))
    >>> len(e), e.parts
    (2, ('dense',))
    """

    dense: np.ndarray | None = None
    sparse: SparseBatch | None = None
    colbert: Ragged | None = None
    #: Not a part: every window's dense vector per text (see :data:`FIELDS`).
    dense_windows: Ragged | None = None

    def __post_init__(self) -> None:
        sizes = {name: len(value) for name, value in self.present()}
        if len(set(sizes.values())) > 1:
            raise InputError(f"parts of one batch differ in length: {sizes}")

    def present(self) -> list[tuple[str, Any]]:
        """``(field name, value)`` of every field of :data:`FIELDS` that is set.

        >>> [name for name, _ in Embeddings(dense=np.eye(2, dtype=np.float32)).present()]
        ['dense']
        """
        return [(f.name, getattr(self, f.name)) for f in FIELDS if getattr(self, f.name) is not None]

    def _items(self) -> list[tuple[str, np.ndarray | SparseBatch | Ragged]]:
        return [(name, getattr(self, name)) for name in PARTS if getattr(self, name) is not None]

    def _require(self, part: str) -> Any:
        value = getattr(self, part)
        if value is None:
            raise InputError(f"these embeddings have no {part} part (they hold {list(self.parts)})")
        return value

    def need_dense(self) -> np.ndarray:
        """The dense part, or :class:`~m3search.errors.InputError` when it is absent."""
        return self._require("dense")

    def need_sparse(self) -> SparseBatch:
        """The sparse part, or :class:`~m3search.errors.InputError` when it is absent."""
        return self._require("sparse")

    def need_colbert(self) -> Ragged:
        """The multi-vector part, or :class:`~m3search.errors.InputError` when it is absent."""
        return self._require("colbert")

    @property
    def parts(self) -> tuple[str, ...]:
        """Names of the parts present, in the order dense, sparse, colbert."""
        return tuple(name for name, _ in self._items())

    def __len__(self) -> int:
        for _, part in self._items():
            return len(part)
        return 0

    def only(self, parts: Sequence[str]) -> Embeddings:
        """These embeddings with just ``parts`` kept (the dense windows go with ``dense``).

        >>> Embeddings(dense=np.eye(2, dtype=np.float32)).only(["sparse"]).parts
        ()
        """
        return Embeddings(**{f.name: getattr(self, f.name) if f.part in parts else None for f in FIELDS})

    def take(self, rows: Sequence[int]) -> Embeddings:
        """The batch of the given rows, in that order."""
        rows = list(rows)
        taken: dict[str, Any] = {name: value[rows] if isinstance(value, np.ndarray) else value.take(rows)
                                 for name, value in self.present()}
        return Embeddings(**taken)


@dataclass(frozen=True)
class TokenMatch:
    """One line of an explanation: a query token, what it matched, and how strongly."""

    query_token: str
    document_token: str
    score: float


@dataclass(frozen=True)
class Explanation:
    """Why a document matched: the sparse tokens that contributed most (weight products) and,
    for multi-vector, the document token each query token matched best (cosine)."""

    sparse: tuple[TokenMatch, ...] = ()
    colbert: tuple[TokenMatch, ...] = ()
    #: in an index of window vectors (``window_dense="best"``): which window gave the dense
    #: score (0-based, in text order), and how many the document has
    dense_window: int | None = None
    dense_windows: int | None = None


@dataclass(frozen=True)
class Hit:
    """One search result: the final score and each mode's own score."""

    id: str
    score: float
    scores: dict[str, float]
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    explanation: Explanation | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: id, score, per-mode scores, text, metadata and the explanation (or ``None``).

        >>> Hit("d1", 0.5, {"dense": 0.5}).to_dict()["scores"]
        {'dense': 0.5}
        """
        return asdict(self)
