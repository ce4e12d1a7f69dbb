"""Documents in and out of an index (no torch): point ids, checks before a write, points as the
engine takes them, stored points back as :class:`Document`.

One Qdrant point per document: a named vector per row of the index's vector-spec table
(:mod:`~m3search.index.vectors`) and a payload with the document's own string id, its text and
its metadata (under ``meta``). String ids map to Qdrant ids with UUID5, so the same id always
lands on the same point.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidDocumentError
from ..io.text import has_lone_surrogate
from ..types import Embeddings, SparseVector
from .backends.engine import META, PointData, StoredPoint
from .filters import INT64
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


#: Bounds on a document's metadata, checked before anything is written: the engine reads JSON
#: nested at most 128 levels and integers of 64 bits, and a lone surrogate is not UTF-8.
MAX_METADATA_DEPTH = 32
MAX_METADATA_BYTES = 64 * 1024


def check_metadata(doc_id: str, metadata: Any) -> None:
    """Refuse metadata an index cannot store and read back: not a mapping, not plain JSON (NaN,
    sets, objects), nested deeper than :data:`MAX_METADATA_DEPTH`, an integer beyond 64 bits, a
    string with a lone surrogate, or over :data:`MAX_METADATA_BYTES` as JSON.

    >>> check_metadata("d1", {"year": float("nan")})
    Traceback (most recent call last):
    ...
    m3search.errors.InvalidDocumentError: document 'd1': metadata is not plain JSON (year: nan)
    >>> check_metadata("d2", {"id": 10**23})
    Traceback (most recent call last):
    ...
    m3search.errors.InvalidDocumentError: document 'd2': metadata integer at id is outside 64 bits (100000000000000000000000); store it as a string
    """
    if not isinstance(metadata, Mapping):
        raise InvalidDocumentError(f"document {doc_id!r}: metadata is a {type(metadata).__name__}, not a mapping")
    stack: list[tuple[Any, int, str]] = [(metadata, 1, "")]
    while stack:  # iterative: a hostile document nested 5,000 levels must not exhaust the stack
        value, depth, path = stack.pop()
        problem = _metadata_problem(value, depth)
        if problem == ("json", ""):
            raise InvalidDocumentError(f"document {doc_id!r}: metadata is not plain JSON "
                                       f"({path}: {value if isinstance(value, float) else type(value).__name__})")
        if problem:
            where = f" at {path}" if path else ""
            raise InvalidDocumentError(f"document {doc_id!r}: metadata {problem[0]}{where} {problem[1]}")
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str) or has_lone_surrogate(key):
                    raise InvalidDocumentError(f"document {doc_id!r}: metadata key {key!r}{' at ' + path if path else ''} "
                                               "is not a UTF-8 string")
                stack.append((item, depth + 1, f"{path}.{key}" if path else key))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1, f"{path}[{i}]") for i, item in enumerate(value))
    size = len(json.dumps(dict(metadata)).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InvalidDocumentError(f"document {doc_id!r}: metadata is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}")


def _metadata_problem(value: Any, depth: int) -> tuple[str, str] | None:
    """``(what, why)`` when one metadata value cannot be stored, else ``None``."""
    if isinstance(value, (Mapping, list, tuple)):
        if depth > MAX_METADATA_DEPTH:
            return "value", f"nests deeper than {MAX_METADATA_DEPTH} levels"
        return None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT64[0] <= value <= INT64[1] else ("integer", f"is outside 64 bits ({value}); store it as a string")
    if isinstance(value, float):
        return None if math.isfinite(value) else ("json", "")
    if isinstance(value, str):
        return ("string", "holds a lone surrogate (not UTF-8)") if has_lone_surrogate(value) else None
    return "json", ""


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
