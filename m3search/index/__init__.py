"""The index: dense, sparse and multi-vector representations on the Qdrant engine (no torch).

``Index.create(DIR, encoder.identity)`` makes an embedded qdrant-edge shard in ``DIR``;
``Index.create(QdrantClientBackend(QdrantClient(url=...), "docs"), ...)`` puts the same schema
on a Qdrant server; :class:`IndexOptions` describes what a new index stores, and
:func:`index_records` encodes a corpus into an index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .facade import Document, Index, QuerySpec, check_metadata, point_id
from .ingest import index_records
from .manifest import Manifest
from .options import IndexOptions
from .transfer import copy_index

if TYPE_CHECKING:
    from .backends.edge import EdgeBackend, ShardSettings
    from .backends.remote import QdrantClientBackend

__all__ = ["Document", "EdgeBackend", "Index", "IndexOptions", "Manifest", "QdrantClientBackend", "QuerySpec",
           "ShardSettings", "check_metadata", "copy_index", "index_records", "point_id"]


def __getattr__(name: str) -> Any:  # each backend imports its engine only when asked for
    if name in ("EdgeBackend", "ShardSettings"):
        from .backends import edge

        return getattr(edge, name)
    if name == "QdrantClientBackend":
        from .backends.remote import QdrantClientBackend

        return QdrantClientBackend
    raise AttributeError(f"module 'm3search.index' has no attribute {name!r}")
