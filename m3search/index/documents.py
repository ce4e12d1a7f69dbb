"""Documents in and out of an index (no torch): point ids, checks before a write, points as the
engine takes them, stored points back as :class:`Document`.

One Qdrant point per document: a named vector per row of the index's vector-spec table
(:mod:`~m3search.index.vectors`) and a payload with the document's own string id, its text and
its metadata (under ``meta``). String ids map to Qdrant ids with UUID5, so the same id always
lands on the same point.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidDocumentError
from ..types import Embeddings, SparseVector
from .backends.engine import META, PointData, StoredPoint
from .vectors import VectorSpec

#: Fixed namespace of the string id -> UUID5 mapping (changing it would orphan every index).
ID_NAMESPACE = uuid.UUID("5b0e7f3c-2a51-4c1e-9d0b-6d3f8e1a4c27")


def point_id(doc_id: str) -> str:
    """The Qdrant point id of a document id (UUID5, deterministic).

    >>> point_id("doc-1") == point_id("doc-1") != point_id("doc-2")
    True
    """
    return str(uuid.uuid5(ID_NAMESPACE, doc_id))


@dataclass(frozen=True)
class Document:
    """A stored document; vectors are filled only when asked for."""

    id: str
    text: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    dense: np.ndarray | None = None
    sparse: SparseVector | None = None
    colbert: np.ndarray | None = None
    #: in an index of best-window dense vectors (``window_dense="best"``): every window's vector
    dense_windows: np.ndarray | None = None


def check_metadata(doc_id: str, metadata: Any) -> None:
    """Refuse metadata an index cannot store: not a mapping, or not plain JSON (NaN, sets, objects).

    >>> check_metadata("d1", {"year": float("nan")})
    Traceback (most recent call last):
    ...
    m3search.errors.InvalidDocumentError: document 'd1': metadata is not plain JSON (Out of range float values are not JSON compliant)
    """
    if not isinstance(metadata, Mapping):
        raise InvalidDocumentError(f"document {doc_id!r}: metadata is a {type(metadata).__name__}, not a mapping")
    try:
        json.dumps(dict(metadata), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidDocumentError(f"document {doc_id!r}: metadata is not plain JSON ({exc})") from exc


def check_documents(ids: Sequence[str], e: Embeddings, texts: Sequence[str] | None,
                    metadata: Sequence[Mapping[str, Any]] | None, vectors: Sequence[VectorSpec],
                    vocab_size: int | None = None) -> None:
    """Raise :class:`InvalidDocumentError` naming the first document of a batch an index with
    ``vectors`` cannot take: counts that disagree, ids not unique non-empty strings, a part
    missing, wrong dimensions, values not finite, metadata not plain JSON, a text not a string.

    >>> from m3search.index.vectors import VectorSpec
    >>> check_documents(["a", "a"], Embeddings(dense=np.eye(2, dtype=np.float32)), None, None,
    ...                 [VectorSpec("dense", "dense", 2)])
    Traceback (most recent call last):
    ...
    m3search.errors.InvalidDocumentError: document 'a' appears twice in one add() call
    """
    _check_counts(ids, e, texts, metadata)
    _check_ids(ids)
    for spec in vectors:
        if getattr(e, spec.part) is None and ids:
            raise InvalidDocumentError(f"document {ids[0]!r} lacks the {spec.part} part this index holds")
    for spec in vectors:
        spec.check(ids, e, vocab_size)
    for doc_id, meta in zip(ids, metadata or ()):
        check_metadata(doc_id, meta)
    for doc_id, text in zip(ids, texts or ()):
        if not isinstance(text, str):
            raise InvalidDocumentError(f"document {doc_id!r}: text is {type(text).__name__}, not str")


def _check_counts(ids: Sequence[str], e: Embeddings, texts: Sequence[str] | None,
                  metadata: Sequence[Mapping[str, Any]] | None) -> None:
    if len(ids) != len(e):
        raise InvalidDocumentError(f"{len(ids)} ids but {len(e)} embeddings")
    for name, values in (("texts", texts), ("metadata", metadata)):
        if values is not None and len(values) != len(ids):
            raise InvalidDocumentError(f"{len(ids)} ids but {len(values)} {name}")


def _check_ids(ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for doc_id in ids:
        if not isinstance(doc_id, str) or not doc_id:
            raise InvalidDocumentError(f"document id {doc_id!r} is not a non-empty string")
        if doc_id in seen:
            raise InvalidDocumentError(f"document {doc_id!r} appears twice in one add() call")
        seen.add(doc_id)


def to_points(ids: Sequence[str], e: Embeddings, texts: Sequence[str] | None,
              metadata: Sequence[Mapping[str, Any]] | None, vectors: Sequence[VectorSpec],
              rows: range) -> list[PointData]:
    """The engine's points of documents ``rows`` of a checked batch."""
    values = {s.name: s.document_values(e, rows) for s in vectors}
    points = []
    for n, i in enumerate(rows):
        payload: dict[str, Any] = {"id": ids[i], META: dict(metadata[i]) if metadata is not None else {}}
        if texts is not None:
            payload["text"] = texts[i]
        points.append(PointData(point_id(ids[i]), {name: column[n] for name, column in values.items()}, payload))
    return points


def to_document(point: StoredPoint, vectors: Sequence[VectorSpec]) -> Document:
    """A stored point as a :class:`Document` (vectors decoded when the point carries them)."""
    fields: dict[str, Any] = {}
    for spec in vectors:
        if spec.name in point.vectors:
            fields.update(spec.read(point.vectors[spec.name]))
    payload = point.payload
    return Document(id=payload["id"], text=payload.get("text"), metadata=dict(payload.get(META, {})), **fields)
