"""What the index asks of a storage engine: a neutral vocabulary both Qdrant backends speak.

Vectors travel as numpy arrays (dense ``(d,)``, multi-vector ``(t, d)``) or sparse
``(indices, values)`` lists into the engine, and as plain Python out of it. Point ids are UUID strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from ..manifest import Manifest

#: Metadata lives under this payload key, so that user fields never clash with ours.
META = "meta"


@dataclass(frozen=True)
class PointData:
    pid: str
    vectors: dict[str, Any]
    payload: dict[str, Any]


@dataclass(frozen=True)
class VectorQuery:
    """One nearest-neighbour request against one named vector."""

    using: str
    vector: Any
    limit: int
    conditions: dict[str, Any] | None = None  # a metadata filter (m3search.index.filters grammar)
    point_ids: tuple[str, ...] | None = None  # restrict to these points
    exact: bool = False
    with_doc_ids: bool = True  # read each hit's document id from its payload (costs a payload read)
    #: against a quantised vector: ``(rescore on the originals, oversampling)``; None: not quantised
    quantized: tuple[bool, float] | None = None
    #: the HNSW beam width at search time (None: the engine's, its ``ef_construct``); larger finds
    #: more of the true neighbours and costs more
    hnsw_ef: int | None = None


class ScoredId(NamedTuple):
    """One hit (a tuple: a search makes hundreds of them, and a tuple is made several times
    faster than a frozen dataclass)."""

    pid: Any  # the engine's own spelling of the point id (a UUID string): hand it back unchanged
    score: float
    doc_id: str  # "" when the query asked for no document ids


@dataclass(frozen=True)
class StoredPoint:
    pid: Any
    payload: dict[str, Any]
    vectors: dict[str, Any]


class Backend(Protocol):
    """A Qdrant-like engine holding one collection."""

    def exists(self) -> bool: ...
    def create(self, manifest: Manifest) -> None: ...
    def load_manifest(self) -> Manifest: ...
    def replace_manifest(self, manifest: Manifest) -> None:
        """Write ``manifest`` in place of the index's own (atomically)."""
        ...
    def upsert(self, points: list[PointData]) -> None: ...
    def delete(self, pids: list[str]) -> None: ...
    def retrieve(self, pids: list[str], with_vectors: bool, fields: list[str] | None = None) -> list[StoredPoint]:
        """The points among ``pids`` that exist, with their payloads (only ``fields`` of it
        when given) and, when asked, their vectors."""
        ...
    def scroll(self, offset: Any, limit: int) -> tuple[list[StoredPoint], Any]:
        """Up to ``limit`` points with payloads and vectors from ``offset`` (``None``: the
        start), and the offset of the next page (``None`` after the last)."""
        ...
    def count(self, conditions: dict[str, Any] | None) -> int: ...
    def query_batch(self, queries: list[VectorQuery]) -> list[list[ScoredId]]: ...
    def flush(self) -> None: ...
    def optimize(self) -> None: ...
    def close(self) -> None: ...
    def drop(self) -> None: ...
    def check_schema(self, manifest: Manifest) -> None: ...
    def disk_bytes(self) -> int | None: ...


def is_url(target: object) -> bool:
    """Whether an index target names a Qdrant server (``http(s)://host:port/collection``)
    rather than a directory.

    >>> is_url("http://localhost:6333/docs"), is_url("indexes/docs")
    (True, False)
    """
    return isinstance(target, str) and target.startswith(("http://", "https://"))
