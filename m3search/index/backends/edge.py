"""The embedded default: a qdrant-edge shard (the Qdrant engine in-process) in a directory.

Layout: ``DIR/manifest.json`` (written last, atomically) and ``DIR/shard/`` (Qdrant's
segments and write-ahead log). Every update goes through the WAL, and ``flush`` runs before
``add`` returns, so a killed process loses at most the call that was running, and a point
(one document with all its vectors) is written whole or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import qdrant_edge as qe

from ...errors import IndexFormatError
from ..manifest import MANIFEST_FILE, Manifest, read_manifest, write_manifest
from .base import PointData, ScoredId, StoredPoint, VectorQuery, payload_conditions

SHARD_DIR = "shard"


def _config(manifest: Manifest) -> qe.EdgeConfig:
    vectors: dict[str, qe.EdgeVectorParams] = {}
    if "dense" in manifest.parts:
        vectors["dense"] = qe.EdgeVectorParams(size=manifest.dim, distance=qe.Distance.Dot)
    if "colbert" in manifest.parts:
        datatypes = {"float16": qe.VectorStorageDatatype.Float16, "float32": qe.VectorStorageDatatype.Float32,
                     "uint8": qe.VectorStorageDatatype.Uint8}
        vectors["colbert"] = qe.EdgeVectorParams(
            size=int(manifest.colbert_stored_dim or 0), distance=qe.Distance.Dot,
            multivector_config=qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim),
            datatype=datatypes[manifest.colbert_storage],
            hnsw_config=qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000),  # rescoring only
        )
    sparse = {"sparse": qe.EdgeSparseVectorParams()} if "sparse" in manifest.parts else None  # no IDF modifier
    return qe.EdgeConfig(vectors=vectors, sparse_vectors=sparse)


def _vector(using: str, value: Any) -> Any:
    if using == "sparse":
        indices, values = value
        return qe.SparseVector(indices=list(indices), values=list(values))
    return value


def _filter(query_conditions: dict[str, Any] | None, point_ids: tuple[str, ...] | None = None) -> qe.Filter | None:
    must: list[Any] = [
        qe.FieldCondition(key=key, match=qe.MatchAny(value) if many else qe.MatchValue(value))
        for key, value, many in payload_conditions(query_conditions)
    ]
    if point_ids is not None:
        must.append(qe.HasIdCondition(set(point_ids)))
    return qe.Filter(must=must) if must else None


def _plain(vector: Any) -> Any:
    if isinstance(vector, qe.SparseVector):
        return (list(vector.indices), list(vector.values))
    return vector


class EdgeBackend:
    """One qdrant-edge shard in ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._shard: qe.EdgeShard | None = None

    @property
    def shard(self) -> qe.EdgeShard:
        if self._shard is None:
            try:
                self._shard = qe.EdgeShard.load(str(self.path / SHARD_DIR))
            except Exception as exc:  # the engine raises plain exceptions on damaged data
                raise IndexFormatError(f"cannot open the Qdrant shard in {self.path / SHARD_DIR}: {exc}") from exc
        return self._shard

    def exists(self) -> bool:
        return (self.path / MANIFEST_FILE).is_file()

    def create(self, manifest: Manifest) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        shard_dir = self.path / SHARD_DIR
        if shard_dir.exists():  # never delete what this call did not create
            raise IndexFormatError(
                f"{self.path} holds a Qdrant shard ({SHARD_DIR}/) but no {MANIFEST_FILE}: an index whose manifest "
                "was lost, or a creation that died. Nothing was changed; remove the directory yourself if it is "
                "not needed, or restore its manifest"
            )
        self._shard = qe.EdgeShard.create(str(shard_dir), _config(manifest))
        self._shard.flush()
        write_manifest(self.path, manifest)

    def load_manifest(self) -> Manifest:
        return read_manifest(self.path)

    def upsert(self, points: list[PointData]) -> None:
        edge_points = [
            qe.Point(id=p.pid, vector={k: _vector(k, v) for k, v in p.vectors.items()}, payload=p.payload) for p in points
        ]
        self.shard.update(qe.UpdateOperation.upsert_points(edge_points))

    def delete(self, pids: list[str]) -> None:
        self.shard.update(qe.UpdateOperation.delete_points(list(pids)))

    def retrieve(self, pids: list[str], with_vectors: bool) -> list[StoredPoint]:
        records = self.shard.retrieve(list(pids), with_payload=True, with_vector=with_vectors)
        return [
            StoredPoint(r.id, dict(r.payload or {}), {k: _plain(v) for k, v in (r.vector if isinstance(r.vector, dict) else {}).items()})
            for r in records
        ]

    def count(self, conditions: dict[str, Any] | None) -> int:
        return int(self.shard.count(qe.CountRequest(filter=_filter(conditions), exact=True)))

    def query_batch(self, queries: list[VectorQuery]) -> list[list[ScoredId]]:
        if not queries:
            return []
        requests = [
            qe.QueryRequest(
                limit=q.limit, query=qe.Query.Nearest(_vector(q.using, q.vector), using=q.using),
                filter=_filter(q.conditions, q.point_ids), params=qe.SearchParams(exact=q.exact),
                with_payload=["id"] if q.with_doc_ids else False,
            )
            for q in queries
        ]
        results = self.shard.query_batch(qe.QueryBatchRequest(requests))
        # point ids stay UUID objects: they only travel back into HasId filters of this engine
        return [[ScoredId(p.id, p.score, p.payload["id"] if p.payload else "") for p in points] for points in results]

    def flush(self) -> None:
        self.shard.flush()

    def optimize(self) -> None:
        self.shard.optimize()

    def close(self) -> None:
        if self._shard is not None:
            self._shard.close()
            self._shard = None

    def disk_bytes(self) -> int | None:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
