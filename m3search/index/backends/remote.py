"""A Qdrant server or cluster through ``qdrant-client``: the same schema and query pipeline
as the embedded shard, for when one machine is not enough.

``qdrant-client``'s in-process local mode (``QdrantClient(":memory:")`` or ``path=...``)
speaks the same API, which is how the tests check that both backends return the same hits.
The manifest is kept in the collection's metadata.

An index on a server is named by a URL, ``http(s)://host:port/collection``
(:func:`from_url`); the API key comes from the environment (``QDRANT_API_KEY``), never from
the command line. :class:`CollectionSettings` carries what a cluster needs at creation:
shards, replicas, write consistency, on-disk vectors and payload indexes on the metadata
fields that filters use.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import QdrantClient, models

from ...errors import ConfigurationError, IndexFormatError
from ..filters import to_clauses, translate
from ..manifest import Manifest
from ..vectors import VectorSpec
from .engine import META, PointData, ScoredId, StoredPoint, VectorQuery, is_url  # noqa: F401 - is_url is re-exported

MANIFEST_KEY = "m3search_manifest"
#: The environment variable holding the server's API key.
API_KEY_ENV = "QDRANT_API_KEY"
URL_PATTERN = re.compile(r"^(?P<server>https?://[^/?#]+)/(?P<collection>[A-Za-z0-9_.-]+)/?$")
PAYLOAD_TYPES = ("keyword", "integer", "float", "bool", "datetime", "text", "uuid")


def parse_url(url: str) -> tuple[str, str]:
    """``(server URL, collection)`` from ``http(s)://host:port/collection``.

    >>> parse_url("https://qdrant.example.com:6333/wiki-de")
    ('https://qdrant.example.com:6333', 'wiki-de')
    """
    match = URL_PATTERN.match(url)
    if match is None:
        raise ConfigurationError(f"index URL {url!r} is not http(s)://host:port/collection (one collection name: "
                                 "letters, digits, '_', '-', '.')")
    return match["server"], match["collection"]


@dataclass(frozen=True)
class CollectionSettings:
    """How a new collection is laid out on a cluster (ignored for an existing one).

    ``payload_indexes``: ``{metadata field: type}`` (one of :data:`PAYLOAD_TYPES`), indexed as
    ``meta.<field>`` so that filters on them stay fast on large collections.

    >>> CollectionSettings(shard_number=3, replication_factor=2).replication_factor
    2
    """

    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None
    on_disk: bool = False
    payload_indexes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("shard_number", "replication_factor", "write_consistency_factor"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigurationError(f"{name} must be an integer >= 1, got {value!r}")
        for key, kind in self.payload_indexes.items():
            if kind not in PAYLOAD_TYPES:
                raise ConfigurationError(f"payload index {key!r}: type must be one of {PAYLOAD_TYPES}, got {kind!r}")


def connect(server: str, api_key: str | None) -> QdrantClient:
    """The client for a server URL (a seam the tests replace with local mode)."""
    return QdrantClient(url=server, api_key=api_key)


def from_url(url: str, settings: CollectionSettings | None = None) -> QdrantClientBackend:
    """The backend for ``http(s)://host:port/collection``, with the API key from ``QDRANT_API_KEY``."""
    server, collection = parse_url(url)
    return QdrantClientBackend(connect(server, os.environ.get(API_KEY_ENV) or None), collection, settings=settings,
                               name=url)


def _vector(using: str, value: Any) -> Any:
    if using == "sparse":
        indices, values = value
        return models.SparseVector(indices=list(indices), values=list(values))
    return value.tolist() if hasattr(value, "tolist") else value


#: The engine's datatype of each storage a vector spec names.
DATATYPES = {"float32": models.Datatype.FLOAT32, "float16": models.Datatype.FLOAT16, "uint8": models.Datatype.UINT8}


def _hnsw(spec: VectorSpec) -> models.HnswConfigDiff | None:
    """The vector's graph: none for a vector used only to rescore, the index's settings, or the server's defaults."""
    if not spec.indexed:
        return models.HnswConfigDiff(m=0)
    if spec.hnsw is None:
        return None
    m, ef_construct = spec.hnsw
    return models.HnswConfigDiff(m=m, ef_construct=ef_construct)


def _vector_params(spec: VectorSpec, on_disk: bool | None) -> models.VectorParams:
    """The collection's parameters of one dense or multi vector of the spec table."""
    multi = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM) if spec.kind == "multi" else None
    return models.VectorParams(
        size=int(spec.stored_dim or 0), distance=models.Distance.DOT, multivector_config=multi,
        datatype=DATATYPES[spec.storage], on_disk=on_disk,
        hnsw_config=_hnsw(spec),
        quantization_config=_quantization(spec.quantization),
    )


#: TurboQuant's bits per dimension of each method (Qdrant >= 1.18).
TURBO_BITS = {"turbo1": models.TurboQuantBitSize.BITS1, "turbo2": models.TurboQuantBitSize.BITS2,
              "turbo4": models.TurboQuantBitSize.BITS4, "turbo8": models.TurboQuantBitSize.BITS8}


def _quantization(method: str | None) -> Any:
    """The server's quantisation of a method name, the quantised copy kept in RAM."""
    if method is None:
        return None
    if method == "int8":
        return models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
            type=models.ScalarType.INT8, quantile=0.99, always_ram=True))
    if method == "binary":
        return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True))
    return models.TurboQuantization(turbo=models.TurboQuantQuantizationConfig(bits=TURBO_BITS[method], always_ram=True))


def _search_params(q: VectorQuery) -> models.SearchParams:
    if q.quantized is None:
        return models.SearchParams(exact=q.exact, hnsw_ef=q.hnsw_ef)
    rescore, oversampling = q.quantized
    return models.SearchParams(exact=q.exact, hnsw_ef=q.hnsw_ef, quantization=models.QuantizationSearchParams(rescore=rescore,
                                                                                           oversampling=oversampling))


def _filter(conditions: dict[str, Any] | None, point_ids: tuple[str, ...] | None = None) -> models.Filter | None:
    must: list[Any] = [
        translate(
            clause, prefix=f"{META}.",
            equals=lambda key, v: models.FieldCondition(key=key, match=models.MatchValue(value=v)),
            range_=lambda key, bounds: models.FieldCondition(key=key, range=models.Range(**bounds)),
            any_of=lambda options: models.Filter(should=options),
            all_of=lambda clauses: models.Filter(must=clauses),
        )
        for clause in to_clauses(conditions)
    ]
    if point_ids is not None:
        must.append(models.HasIdCondition(has_id=list(point_ids)))
    return models.Filter(must=must) if must else None


def _stored(record: Any) -> StoredPoint:
    """A record the engine returned, with plain vectors."""
    r = record
    vectors = r.vector if isinstance(r.vector, dict) else {}
    return StoredPoint(str(r.id), dict(r.payload or {}), {k: _plain(v) for k, v in vectors.items()})


def _plain(vector: Any) -> Any:
    if isinstance(vector, models.SparseVector):
        return (list(vector.indices), list(vector.values))
    return vector


class QdrantClientBackend:
    """One collection on a Qdrant server (``QdrantClient(url=...)``) or in local mode."""

    def __init__(self, client: QdrantClient, collection: str, *, settings: CollectionSettings | None = None,
                 name: str | None = None) -> None:
        self.client = client
        self.collection = collection
        self.settings = settings or CollectionSettings()
        self.name = name or collection

    def exists(self) -> bool:
        return self.client.collection_exists(self.collection)

    def create(self, manifest: Manifest) -> None:
        settings = self.settings
        on_disk = settings.on_disk or None
        specs = manifest.vectors
        vectors = {s.name: _vector_params(s, on_disk) for s in specs if s.kind != "sparse"}
        sparse = {s.name: models.SparseVectorParams(index=models.SparseIndexParams(on_disk=on_disk))
                  for s in specs if s.kind == "sparse"} or None
        self.client.create_collection(
            self.collection, vectors_config=vectors, sparse_vectors_config=sparse,
            shard_number=settings.shard_number, replication_factor=settings.replication_factor,
            write_consistency_factor=settings.write_consistency_factor, on_disk_payload=on_disk,
            metadata={MANIFEST_KEY: manifest.to_json()},
        )
        for key, kind in settings.payload_indexes.items():
            self.client.create_payload_index(self.collection, field_name=f"{META}.{key}", field_schema=kind,  # type: ignore[arg-type]
                                             wait=True)

    def replace_manifest(self, manifest: Manifest) -> None:
        self.client.update_collection(self.collection, metadata={MANIFEST_KEY: manifest.to_json()})

    def load_manifest(self) -> Manifest:
        if not self.exists():
            raise IndexFormatError(f"Qdrant collection {self.collection!r} does not exist")
        metadata = self.client.get_collection(self.collection).config.metadata or {}
        if MANIFEST_KEY not in metadata:
            raise IndexFormatError(f"Qdrant collection {self.collection!r} is not an m3search index (no manifest)")
        return Manifest.from_json(metadata[MANIFEST_KEY], f"collection {self.collection!r}")

    def upsert(self, points: list[PointData]) -> None:
        structs = [
            models.PointStruct(id=p.pid, vector={k: _vector(k, v) for k, v in p.vectors.items()}, payload=p.payload)
            for p in points
        ]
        self.client.upsert(self.collection, points=structs, wait=True)

    def delete(self, pids: list[str]) -> None:
        self.client.delete(self.collection, points_selector=models.PointIdsList(points=list(pids)), wait=True)

    def retrieve(self, pids: list[str], with_vectors: bool, fields: list[str] | None = None) -> list[StoredPoint]:
        payload: Any = True if fields is None else list(fields)
        records = self.client.retrieve(self.collection, ids=list(pids), with_payload=payload, with_vectors=with_vectors)
        return [_stored(r) for r in records]

    def scroll(self, offset: Any, limit: int) -> tuple[list[StoredPoint], Any]:
        records, next_offset = self.client.scroll(self.collection, offset=offset, limit=limit, with_payload=True,
                                                  with_vectors=True)
        return [_stored(r) for r in records], next_offset

    def count(self, conditions: dict[str, Any] | None) -> int:
        return int(self.client.count(self.collection, count_filter=_filter(conditions), exact=True).count)

    def query_batch(self, queries: list[VectorQuery]) -> list[list[ScoredId]]:
        if not queries:
            return []
        requests = [
            models.QueryRequest(
                query=_vector(q.using, q.vector), using=q.using, limit=q.limit,
                filter=_filter(q.conditions, q.point_ids), params=_search_params(q),
                with_payload=["id"] if q.with_doc_ids else False,
            )
            for q in queries
        ]
        responses = self.client.query_batch_points(self.collection, requests=requests)
        return [[ScoredId(str(p.id), float(p.score), p.payload["id"] if p.payload else "") for p in r.points] for r in responses]

    def flush(self) -> None:
        """Writes are acknowledged with ``wait=True``; nothing is buffered here."""

    def optimize(self) -> None:
        """The server optimises in the background."""

    def close(self) -> None:
        self.client.close()

    def drop(self) -> None:
        """Delete the collection (undoing a creation that failed)."""
        self.client.delete_collection(self.collection)

    def check_schema(self, manifest: Manifest) -> None:
        """The manifest lives in the collection itself, so the two cannot disagree."""

    def disk_bytes(self) -> int | None:
        return None
