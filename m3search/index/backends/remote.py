"""A Qdrant server or cluster through ``qdrant-client``: the same schema and query pipeline
as the embedded shard, for when one machine is not enough.

``qdrant-client``'s in-process local mode (``QdrantClient(":memory:")`` or ``path=...``)
speaks the same API, which is how the tests check that both backends return the same hits.
The manifest is kept in the collection's metadata.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import QdrantClient, models

from ...errors import IndexFormatError
from ..filters import to_clauses, translate
from ..manifest import Manifest
from .base import META, PointData, ScoredId, StoredPoint, VectorQuery

MANIFEST_KEY = "m3search_manifest"


def _vector(using: str, value: Any) -> Any:
    if using == "sparse":
        indices, values = value
        return models.SparseVector(indices=list(indices), values=list(values))
    return value.tolist() if hasattr(value, "tolist") else value


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


def _plain(vector: Any) -> Any:
    if isinstance(vector, models.SparseVector):
        return (list(vector.indices), list(vector.values))
    return vector


class QdrantClientBackend:
    """One collection on a Qdrant server (``QdrantClient(url=...)``) or in local mode."""

    def __init__(self, client: QdrantClient, collection: str) -> None:
        self.client = client
        self.collection = collection

    def exists(self) -> bool:
        return self.client.collection_exists(self.collection)

    def create(self, manifest: Manifest) -> None:
        vectors: dict[str, models.VectorParams] = {}
        if "dense" in manifest.parts:
            windows = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM) if manifest.dense_windows else None
            vectors["dense"] = models.VectorParams(size=manifest.dim, distance=models.Distance.DOT, multivector_config=windows)
        if "colbert" in manifest.parts:
            datatypes = {"float16": models.Datatype.FLOAT16, "float32": models.Datatype.FLOAT32,
                         "uint8": models.Datatype.UINT8}
            vectors["colbert"] = models.VectorParams(
                size=int(manifest.colbert_stored_dim or 0), distance=models.Distance.DOT,
                multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
                datatype=datatypes[manifest.colbert_storage],
                hnsw_config=models.HnswConfigDiff(m=0),  # rescoring only
            )
        sparse = {"sparse": models.SparseVectorParams()} if "sparse" in manifest.parts else None
        self.client.create_collection(
            self.collection, vectors_config=vectors, sparse_vectors_config=sparse,
            metadata={MANIFEST_KEY: manifest.to_json()},
        )

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

    def retrieve(self, pids: list[str], with_vectors: bool) -> list[StoredPoint]:
        records = self.client.retrieve(self.collection, ids=list(pids), with_payload=True, with_vectors=with_vectors)
        return [
            StoredPoint(str(r.id), dict(r.payload or {}), {k: _plain(v) for k, v in (r.vector if isinstance(r.vector, dict) else {}).items()})
            for r in records
        ]

    def count(self, conditions: dict[str, Any] | None) -> int:
        return int(self.client.count(self.collection, count_filter=_filter(conditions), exact=True).count)

    def query_batch(self, queries: list[VectorQuery]) -> list[list[ScoredId]]:
        if not queries:
            return []
        requests = [
            models.QueryRequest(
                query=_vector(q.using, q.vector), using=q.using, limit=q.limit,
                filter=_filter(q.conditions, q.point_ids), params=models.SearchParams(exact=q.exact),
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
