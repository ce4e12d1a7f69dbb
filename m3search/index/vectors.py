"""The vector-spec table: every named vector an index stores, described in one place (no torch).

A :class:`VectorSpec` says what the engine keeps under one name: its ``kind`` (one ``dense``
vector, ``sparse`` token ids and weights, or ``multi`` rows scored by MaxSim), the width of a
row (``dim``), the ``storage`` datatype, whether an HNSW graph indexes it (``indexed``; a vector
used only to rescore candidates has none), which search mode reads it (``part``) and which
:class:`~m3search.types.Embeddings` field a document's rows come from (``source``).
:func:`vector_specs` is the table of one index, read from its manifest. Both engines lay out
their collection from it, and documents are checked, written and read back, and queries built
and scored, through it.

The best-window dense representation (an encoder with ``window_dense="best"``) is one row of
this table: ``dense`` stored as ``multi`` from the ``dense_windows`` field, searched with the
query's one dense vector, so that MaxSim over one query row is the best window's score. A new
representation is a new row in :func:`vector_specs` (with the manifest field it is read from);
one derived from another field by a computation (a fixed-dimensional encoding of the multi-vector
rows, say) is a subclass of :class:`VectorSpec` overriding how documents and queries map to it.

>>> from m3search.index.manifest import Manifest
>>> identity = {"name": "toy", "dim": 4, "colbert_dim": 4, "parts": ["dense", "sparse", "colbert"]}
>>> table = vector_specs(Manifest(identity, ("dense", "sparse", "colbert"), colbert_storage="uint8"))
>>> [(s.name, s.kind, s.stored_dim, s.storage, s.indexed) for s in table]
[('dense', 'dense', 4, 'float32', True), ('sparse', 'sparse', None, 'sparse', True), ('colbert', 'multi', 7, 'uint8', False)]
>>> table = vector_specs(Manifest(identity, ("colbert",), colbert_storage="uint8", extra={"uint8_codec": 2}))
>>> [(s.name, s.stored_dim) for s in table]
[('colbert', 6)]
>>> windows = {**identity, "long": {"window_dense": "best"}}
>>> [(s.name, s.kind, s.source) for s in vector_specs(Manifest(windows, ("dense",)))]
[('dense', 'multi', 'dense_windows')]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import ConfigurationError, InputError, InvalidDocumentError
from ..types import Embeddings, Ragged, SparseVector
from . import codecs
from .fde import FDE, FDEParams

if TYPE_CHECKING:
    from .manifest import Manifest

Kind = Literal["dense", "sparse", "multi"]
#: Datatypes a dense or multi-vector row may be stored in ("uint8": :mod:`~m3search.index.codecs`).
STORAGE = ("float32", "float16", "uint8")


@dataclass(frozen=True)
class VectorSpec:
    """One named vector of an index: what the engine stores and how documents and queries map to it."""

    name: str
    kind: Kind
    dim: int | None = None
    storage: str = "float32"
    indexed: bool = True
    #: the search mode (and query part) this vector answers; default: ``name``
    part: str = ""
    #: the Embeddings field documents' rows come from; default: ``part``
    source: str = ""
    #: how messages name a row of it ("dense", "multi-vector", "dense window")
    label: str = ""
    #: the engine's quantisation of it (:data:`~m3search.index.options.QUANTIZATION`), None: none
    quantization: str | None = None
    #: searching the quantised copy: rescore on the originals, and the oversampling
    search_quantization: tuple[bool, float] | None = None
    #: the HNSW graph's ``(m, ef_construct)`` of an indexed vector; None: the engine's defaults
    hnsw: tuple[int, int] | None = None
    #: the layout of uint8 rows (:data:`~m3search.index.codecs.CODECS`), as the index records it
    codec: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "part", self.part or self.name)
        object.__setattr__(self, "source", self.source or self.part)
        object.__setattr__(self, "label", self.label or self.part)
        if self.kind != "sparse" and self.storage not in STORAGE:
            raise ConfigurationError(f"vector {self.name!r}: storage must be one of {STORAGE}, got {self.storage!r}")
        if self.quantization is not None and (self.kind == "sparse" or self.storage == "uint8"):
            raise ConfigurationError(f"vector {self.name!r} stored as {self.storage} cannot also be quantised by the "
                                     "engine: choose one (the engine's int8 replaces m3search's uint8 codes)")

    @property
    def stored_dim(self) -> int | None:
        """Width of a stored row (uint8 codes carry compensation bytes); ``None`` for sparse."""
        if self.kind == "sparse" or self.dim is None:
            return None
        return self.dim + codecs.extra_dims(self.dim, self.codec) if self.storage == "uint8" else self.dim

    @property
    def engine_storage(self) -> str:
        """The datatype as a schema shows it (``"sparse"`` for sparse vectors)."""
        return "sparse" if self.kind == "sparse" else self.storage

    # ------------------------------------------------------------------ documents
    def document_value(self, e: Embeddings, i: int) -> Any:
        """Document ``i`` of ``e`` as the engine takes it: an array, or ``(ids, weights)`` lists."""
        if self.kind == "sparse":
            v = e.need_sparse()[i]
            return v.ids.tolist(), v.weights.tolist()
        rows = np.ascontiguousarray(self._rows(e)[i], dtype=np.float32)
        if self.kind == "multi" and rows.ndim == 1:  # the part's one vector stands for its only row
            rows = rows[None]
        if self.storage != "uint8":
            return rows
        return codecs.encode_documents(rows, codec=self.codec)

    def document_values(self, e: Embeddings, rows: range) -> list[Any]:
        """:meth:`document_value` of each of ``rows`` (a representation computed per batch
        overrides this)."""
        return [self.document_value(e, i) for i in rows]

    def _rows(self, e: Embeddings) -> Any:
        source = getattr(e, self.source)
        return source if source is not None else getattr(e, self.part)

    def read(self, stored: Any) -> dict[str, Any]:
        """A stored value as :class:`~m3search.index.Document` fields (``{part: ..., source: ...}``)."""
        if self.kind == "sparse":
            indices, values = stored
            order = np.argsort(indices)
            return {self.part: SparseVector(np.asarray(indices, np.int64)[order], np.asarray(values, np.float32)[order])}
        rows = np.asarray(stored, np.float32)
        if self.storage == "uint8":
            rows = codecs.decode_documents(rows, self.dim or 0, codec=self.codec)
        if self.source == self.part:
            return {self.part: rows}
        # the part stored as rows of another field: the part's one vector is their normalised mean
        # (the rows' token counts are not stored, so a plain mean)
        mean = rows.mean(axis=0)
        return {self.part: (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32), self.source: rows}

    def check(self, ids: Sequence[str], e: Embeddings, vocab_size: int | None = None) -> None:
        """Raise :class:`InvalidDocumentError` naming the first document this vector cannot store."""
        if not ids:
            return
        if self.kind == "sparse":
            _check_sparse(ids, e, vocab_size)
            return
        part = getattr(e, self.part)
        if isinstance(part, np.ndarray):
            _check_matrix(ids, part, self.dim or 0, self.part)
        else:
            _check_ragged(ids, part, self.dim or 0, self.label)
        source = getattr(e, self.source)
        if self.source != self.part and source is not None:
            _check_ragged(ids, source, self.dim or 0, self.label)
        if self.storage == "uint8":
            _check_unit_rows(ids, source if source is not None else part, self.label)

    # ------------------------------------------------------------------ queries
    def query_value(self, queries: Embeddings, i: int) -> tuple[Any, bool]:
        """``(vector, empty)``: query ``i`` as the engine takes it, and whether it has nothing to search."""
        if self.kind == "sparse":
            v = queries.need_sparse()[i]
            return (v.ids.tolist(), v.weights.tolist()), len(v) == 0
        rows = getattr(queries, self.part)[i]
        if rows.ndim == 1:  # one vector
            if not np.isfinite(float(rows.sum())):
                raise InputError(f"query {i}: the {self.part} vector holds NaN or infinite values")
            one = np.asarray([rows], dtype=np.float32)
            if self.storage == "uint8":
                one = codecs.encode_queries(_unit_query(i, one, self.part), codec=self.codec)
            if self.kind == "multi":  # one query row: MaxSim is the best stored row's score
                return one, False
            return one[0].tolist(), False
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if len(rows) == 0:
            return rows, True
        if self.storage == "uint8":
            return codecs.encode_queries(_unit_query(i, rows, self.part), codec=self.codec), False
        return rows, False

    def rescale(self, queries: Embeddings, i: int, vector: Any) -> Callable[[float], float] | None:
        """How the engine's raw score of query ``i`` (sent as ``vector``) becomes m3search's:
        the MaxSim sum over several query rows divided by their number, uint8 codes decoded (a
        query's one vector, dense or a multi-vector query of one row, is not divided)."""
        if self.kind == "sparse":
            return None
        rows = getattr(queries, self.part)
        n = 1 if isinstance(rows, np.ndarray) else int(rows.lengths[i])
        if self.storage == "uint8":
            codes = np.asarray(vector, np.float32).reshape(n, -1)
            dim = self.dim or 0
            offset = codecs.query_offset(codes, dim, codec=self.codec)  # once per query, not per hit
            return lambda raw: codecs.decode_maxsim(raw, codes, dim, offset, codec=self.codec) / n
        return None if isinstance(rows, np.ndarray) else (lambda raw: raw / n)


@dataclass(frozen=True)
class EncodedMultiSpec(VectorSpec):
    """The multi-vector first stage: each document's rows as one fixed-dimensional encoding
    (MUVERA, :mod:`~m3search.index.fde`), a dense vector under the engine's HNSW graph, whose inner
    product with a query's encoding approximates the multi-vector score. Candidates it finds are
    rescored exactly on the stored rows; it is never a score of its own."""

    fde_settings: tuple[tuple[str, Any], ...] = ()
    width: int = 0

    def encoder(self) -> FDE:
        return _fde(self.width, **dict(self.fde_settings))

    def document_value(self, e: Embeddings, i: int) -> Any:
        return self.document_values(e, range(i, i + 1))[0]

    def document_values(self, e: Embeddings, rows: range) -> list[Any]:
        colbert = e.need_colbert()
        encoded = self.encoder().documents(Ragged.from_arrays([colbert[i] for i in rows], dim=self.width))
        return list(encoded.astype(np.float16 if self.storage == "float16" else np.float32))

    def check(self, ids: Sequence[str], e: Embeddings, vocab_size: int | None = None) -> None:
        """The multi-vector rows are checked by the ``colbert`` row of the table."""

    def read(self, stored: Any) -> dict[str, Any]:
        return {}  # derived from the rows: not a field of a document

    def query_value(self, queries: Embeddings, i: int) -> tuple[Any, bool]:
        rows = queries.need_colbert()[i]
        if len(rows) == 0:
            return [], True
        return self.encoder().queries(Ragged.from_arrays([rows], dim=self.width))[0].tolist(), False

    def rescale(self, queries: Embeddings, i: int, vector: Any) -> Callable[[float], float] | None:
        return None


@lru_cache(maxsize=8)
def _fde(width: int, *, k_sim: int, dim_proj: int, reps: int, seed: int) -> FDE:
    return FDE(width, k_sim, dim_proj, reps, seed)


#: The name of the multi-vector first stage's vector.
FDE_VECTOR = "colbert_fde"


def vector_specs(manifest: Manifest) -> tuple[VectorSpec, ...]:
    """The named vectors of the index ``manifest`` describes, in ``dense, sparse, colbert`` order."""
    table: list[VectorSpec] = []
    if "dense" in manifest.parts:
        if manifest.dense_windows:
            table.append(VectorSpec("dense", "multi", manifest.dim, storage=manifest.dense_storage, source="dense_windows",
                                    label="dense window", codec=manifest.uint8_codec))
        else:
            table.append(VectorSpec("dense", "dense", manifest.dim, storage=manifest.dense_storage,
                                    codec=manifest.uint8_codec))
    if "sparse" in manifest.parts:
        table.append(VectorSpec("sparse", "sparse", storage="sparse"))
    if "colbert" in manifest.parts:
        table.append(VectorSpec("colbert", "multi", manifest.colbert_dim, storage=manifest.colbert_storage,
                                indexed=False, label="multi-vector", codec=manifest.uint8_codec))
        fde = manifest.fde
        if fde is not None:
            params = {k: int(fde[k]) for k in ("k_sim", "dim_proj", "reps", "seed")}
            width = int(manifest.colbert_dim or 0)
            table.append(EncodedMultiSpec(FDE_VECTOR, "dense", FDEParams(**params).output_dim(), storage=fde["storage"],
                                          part="colbert", label="multi-vector encoding",
                                          fde_settings=tuple(sorted(params.items())), width=width))
    quantized = manifest.quantization
    if quantized:
        search = (bool(quantized["rescore"]), float(quantized["oversampling"]))
        methods = quantized["vectors"]
        table = [replace(s, quantization=methods[s.name], search_quantization=search) if s.name in methods else s
                 for s in table]
    if manifest.hnsw is not None:
        table = [replace(s, hnsw=manifest.hnsw) if s.indexed and s.kind != "sparse" else s for s in table]
    return tuple(table)


def _check_matrix(ids: Sequence[str], matrix: np.ndarray, dim: int, label: str) -> None:
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise InvalidDocumentError(f"document {ids[0]!r}: {label} dimension {matrix.shape[1:]} is not ({dim},)")
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if len(bad):
        raise InvalidDocumentError(f"document {ids[bad[0]]!r}: {label} vector holds NaN or infinite values")


def _check_ragged(ids: Sequence[str], ragged: Any, dim: int, label: str) -> None:
    if ragged.dim != dim:
        raise InvalidDocumentError(f"document {ids[0]!r}: {label} dimension {ragged.dim} is not {dim}")
    for doc_id, rows in zip(ids, ragged):
        if len(rows) == 0:
            raise InvalidDocumentError(f"document {doc_id!r}: no {label} rows")
        if not np.isfinite(rows).all():
            raise InvalidDocumentError(f"document {doc_id!r}: {label} holds NaN or infinite values")


def _check_unit_rows(ids: Sequence[str], rows: Any, label: str) -> None:
    """uint8 codes hold components in [-1, 1] (:mod:`~m3search.index.codecs`): a vector that is
    not normalised is refused rather than clipped. The bound leaves room for a decoded vector
    stored again (rounding lengthens a unit vector by up to ~0.012 at 128 dimensions)."""
    data = rows if isinstance(rows, np.ndarray) else rows.data
    at, length = _longest(data)
    if length > UNIT_BOUND:
        doc = at if isinstance(rows, np.ndarray) else int(np.searchsorted(rows.offsets, at, side="right") - 1)
        raise InvalidDocumentError(f"document {ids[doc]!r}: a {label} vector of length {length:.3f}; uint8 "
                                   "storage holds vectors of length at most 1 (normalised ones)")


#: the longest vector uint8 codes take: a unit vector, with room for a decoded one stored again
UNIT_BOUND = 1.05


def _longest(data: np.ndarray) -> tuple[int, float]:
    """The row of ``data`` (vectors, or one) with the largest length, and that length (``(0, 0.0)``: none)."""
    norms = np.linalg.norm(np.asarray(data, np.float32).reshape(-1, data.shape[-1]), axis=1)
    return (int(np.argmax(norms)), float(norms.max())) if len(norms) else (0, 0.0)


def _unit_query(i: int, rows: np.ndarray, part: str) -> np.ndarray:
    """``rows`` of query ``i``, refused when longer than a unit vector (uint8 codes would clip them)."""
    length = _longest(rows)[1]
    if length > UNIT_BOUND:
        raise InputError(f"query {i}: a {part} vector of length {length:.3f}; an index of uint8 codes "
                         "compares vectors of length at most 1 (normalised ones)")
    return rows


def _check_sparse(ids: Sequence[str], e: Embeddings, vocab_size: int | None) -> None:
    for doc_id, vector in zip(ids, e.need_sparse()):
        if not np.isfinite(vector.weights).all():
            raise InvalidDocumentError(f"document {doc_id!r}: sparse weights hold NaN or infinite values")
        if len(vector.ids) and (vector.ids.min() < 0 or (vocab_size and vector.ids.max() >= vocab_size)):
            raise InvalidDocumentError(f"document {doc_id!r}: sparse token id outside the vocabulary [0, {vocab_size})")
