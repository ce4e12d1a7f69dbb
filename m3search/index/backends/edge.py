"""The embedded default: a qdrant-edge shard (the Qdrant engine in-process) in a directory.

Layout: ``DIR/manifest.json`` (written last, atomically), ``DIR/shard/`` (Qdrant's
segments) and ``DIR/lock`` (see :mod:`~m3search.index.lock`: the backend holds it from
construction to :meth:`EdgeBackend.close`, so one process at a time uses the index). The shard
keeps no write-ahead log (qdrant-edge replays all of it on every open and never truncates it);
instead ``flush`` runs before ``add`` returns, so a killed process loses at most the call that
was running, and a point (one document with all its vectors) is written whole or not at all
(``tests/index/test_durability.py`` kills writers mid-call). An index made by an earlier
m3search still has its log and opens slowly when large: ``m3search index export`` copies it into
a new one. Every engine error is raised as
:class:`~m3search.errors.IndexFormatError` naming the index.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import numpy as np
import qdrant_edge as qe

from ...errors import ConfigurationError, IndexFormatError
from ..filters import to_clauses, translate
from ..lock import DEFAULT_WAIT, LOCK_FILE, IndexLock
from ..manifest import MANIFEST_FILE, Manifest, read_manifest, write_manifest
from ..vectors import VectorSpec
from .engine import META, PointData, ScoredId, StoredPoint, VectorQuery
from .shard_check import check_id_trackers

SHARD_DIR = "shard"
T = TypeVar("T")


@dataclass(frozen=True)
class ShardSettings:
    """How a new embedded shard lays out its data (the engine records it in the shard).

    ``on_disk``: vectors (dense and multi-vector), the sparse index and payloads are
    memory-mapped and read from disk on first use (Qdrant's ``cold`` memory tier) instead of
    being warmed into RAM when the shard opens (``cached``, the default): an index larger than
    RAM still serves, at the cost of disk reads for pages the OS has not cached.

    ``max_segment_size_kb``: the largest segment the engine's optimiser builds. Optimising
    copies the segments it merges, so by default (one segment per core, unbounded size) a shard
    needs about twice its size in free disk at the end of a large build (a 1M-document compact
    index asked for 32.7 GiB more); a bound makes each merge, and the free disk it needs, that
    small, for more segments to search.

    ``full_scan_threshold_kb``: the size of a vector's storage in a segment from which it gets
    its HNSW graph and is searched through it (the engine's default: 10,000 KB; below it the vector
    is scanned, exactly). 1 builds and searches the graphs of even a small index, as a large index
    has them: what ``benchmarks/certify.py`` measures the bytes of.

    >>> ShardSettings(on_disk=True).on_disk
    True
    """

    on_disk: bool = False
    max_segment_size_kb: int | None = None
    full_scan_threshold_kb: int | None = None

    def __post_init__(self) -> None:
        size = self.max_segment_size_kb
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1024):
            raise ConfigurationError(f"max_segment_size_kb must be an integer >= 1024, got {size!r}")
        threshold = self.full_scan_threshold_kb
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1):
            raise ConfigurationError(f"full_scan_threshold_kb must be an integer >= 1, got {threshold!r}")


#: The engine's datatype of each storage a vector spec names.
DATATYPES = {"float32": qe.VectorStorageDatatype.Float32, "float16": qe.VectorStorageDatatype.Float16,
             "uint8": qe.VectorStorageDatatype.Uint8}


def _vector_params(spec: VectorSpec, memory: Any, full_scan_kb: int | None = None) -> qe.EdgeVectorParams:
    """The engine's parameters of one dense or multi vector of the spec table."""
    return qe.EdgeVectorParams(
        size=int(spec.stored_dim or 0), distance=qe.Distance.Dot, datatype=DATATYPES[spec.storage], memory=memory,
        multivector_config=qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim) if spec.kind == "multi" else None,
        # a vector used only to rescore gets no graph
        hnsw_config=_hnsw(spec, full_scan_kb),
        quantization_config=_quantization(spec.quantization),
    )


def _hnsw(spec: VectorSpec, full_scan_kb: int | None = None) -> Any:
    """The vector's graph: none for a vector used only to rescore, the index's settings, or the defaults."""
    if not spec.indexed:
        return qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000)
    if spec.hnsw is None and full_scan_kb is None:
        return None
    m, ef_construct = spec.hnsw or (16, 100)
    return qe.HnswIndexConfig(m=m, ef_construct=ef_construct, full_scan_threshold=full_scan_kb or 10_000)


#: TurboQuant's bits per dimension of each method.
TURBO_BITS = {"turbo1": qe.TurboQuantBitSize.Bits1, "turbo2": qe.TurboQuantBitSize.Bits2,
              "turbo4": qe.TurboQuantBitSize.Bits4, "turbo8": qe.TurboQuantBitSize.Bits8}


def _quantization(method: str | None) -> Any:
    """The engine's quantisation of a method name; the quantised copy stays in RAM (pinned), the
    originals where the shard's layout puts them (on disk with ``on_disk``)."""
    if method is None:
        return None
    if method == "int8":
        return qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Pinned)
    if method == "binary":
        return qe.BinaryQuantizationConfig(memory=qe.Memory.Pinned)
    return qe.TurboQuantQuantizationConfig(bits=TURBO_BITS[method], memory=qe.Memory.Pinned)


def _search_params(q: VectorQuery) -> qe.SearchParams:
    if q.quantized is None:
        return qe.SearchParams(exact=q.exact, hnsw_ef=q.hnsw_ef)
    rescore, oversampling = q.quantized
    return qe.SearchParams(exact=q.exact, hnsw_ef=q.hnsw_ef, quantization=qe.QuantizationSearchParams(rescore=rescore,
                                                                                   oversampling=oversampling))


def _config(manifest: Manifest, settings: ShardSettings | None = None) -> qe.EdgeConfig:
    cold = qe.Memory.Cold if settings is not None and settings.on_disk else None
    specs = manifest.vectors
    full_scan = settings.full_scan_threshold_kb if settings is not None else None
    vectors = {s.name: _vector_params(s, cold, full_scan) for s in specs if s.kind != "sparse"}
    # no IDF modifier: the learned weights are the scores
    sparse = {s.name: qe.EdgeSparseVectorParams(memory=cold) for s in specs if s.kind == "sparse"} or None
    # No write-ahead log: qdrant-edge replays the whole log on every load and never truncates it
    # (an index of 1,000 real-shaped documents took 5.6 s and 3 GB to open, and the log doubled the
    # disk). Durability comes from add(), which flushes the segments before it returns, so a killed
    # process loses at most the call that was running (tests/index/test_durability.py).
    size = settings.max_segment_size_kb if settings is not None else None
    optimizers = None if size is None and full_scan is None else qe.EdgeOptimizersConfig(
        max_segment_size=size, indexing_threshold=full_scan)
    return qe.EdgeConfig(vectors=vectors, sparse_vectors=sparse, payload_memory=cold, wal_enabled=False,
                         optimizers=optimizers)


def _schema(manifest: Manifest) -> dict[str, tuple[Any, Any]]:
    """``{vector name: (size, datatype)}`` as ``edge_config.json`` records it (sparse: ``("sparse", None)``)."""
    return {s.name: ("sparse", None) if s.kind == "sparse" else (s.stored_dim, s.storage) for s in manifest.vectors}


def _show(schema: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{k} ({'sparse' if size == 'sparse' else f'{size} x {dtype}'})" for k, (size, dtype) in sorted(schema.items())) or "nothing"


def _vector(using: str, value: Any) -> Any:
    if using == "sparse":
        indices, values = value
        return qe.SparseVector(indices=list(indices), values=list(values))
    return value


def _filter(query_conditions: dict[str, Any] | None, point_ids: tuple[str, ...] | None = None) -> qe.Filter | None:
    must: list[Any] = [
        translate(
            clause, prefix=f"{META}.",
            # the engine reads Python's bool as the integer 1 (matching nothing): numpy's bool is read as a bool
            equals=lambda key, v: qe.FieldCondition(key=key, match=qe.MatchValue(np.bool_(v) if isinstance(v, bool) else v)),  # type: ignore[arg-type]
            range_=lambda key, bounds: qe.FieldCondition(key=key, range=qe.RangeFloat(**bounds)),
            any_of=lambda options: qe.Filter(should=options),
            all_of=lambda clauses: qe.Filter(must=clauses),
        )
        for clause in to_clauses(query_conditions)
    ]
    if point_ids is not None:
        must.append(qe.HasIdCondition(set(point_ids)))
    return qe.Filter(must=must) if must else None


def _pid(point_id: Any) -> str:
    """A point id as this backend hands it out: 32 hex digits. The engine reads them back
    (HasId filters, retrieve), and a string hashes at C speed where a ``uuid.UUID`` hashes in
    Python (a fused search keys thousands of lookups by them)."""
    return point_id.hex if isinstance(point_id, UUID) else str(point_id)


def _stored(record: Any) -> StoredPoint:
    """A record the engine returned, with plain vectors."""
    r = record
    vectors = r.vector if isinstance(r.vector, dict) else {}
    return StoredPoint(_pid(r.id), dict(r.payload or {}), {k: _plain(v) for k, v in vectors.items()})


def _plain(vector: Any) -> Any:
    if isinstance(vector, qe.SparseVector):
        return (list(vector.indices), list(vector.values))
    return vector


class EdgeBackend:
    """One qdrant-edge shard in ``path``, locked for this process until :meth:`close`.

    ``create_dir`` makes the directory when it is missing (for a new index); otherwise a
    missing directory is an :class:`IndexFormatError`. ``wait``: seconds to wait for another
    process's lock before :class:`~m3search.errors.IndexLockedError`.
    """

    #: the manifest keeps the document count of the last write (see ``Index.add``): a shard that
    #: later holds fewer lost them, and is refused when opened
    records_documents = True

    def __init__(self, path: str | Path, *, wait: float = DEFAULT_WAIT, create_dir: bool = False,
                 settings: ShardSettings | None = None) -> None:
        self.path = Path(path)
        self.settings = settings  # used by create() only: an existing shard keeps its own layout
        self._shard: qe.EdgeShard | None = None
        self._made_dir = False
        if self.path.exists() and not self.path.is_dir():
            raise IndexFormatError(f"{self.path} is a file, not an index directory")
        if not self.path.is_dir():
            if not create_dir:
                raise IndexFormatError(f"no index at {self.path}")
            try:
                self.path.mkdir(parents=True)
                self._made_dir = True
            except FileExistsError:  # another creator was quicker: the lock decides
                pass
            except OSError as exc:
                raise IndexFormatError(f"cannot create the index directory {self.path}: {exc.strerror}") from exc
        self._lock: IndexLock | None = IndexLock.acquire(self.path, wait=wait)

    def _engine(self, action: str, call: Callable[[], T]) -> T:
        """Run an engine call; its errors (plain exceptions, or a Rust panic) become IndexFormatError."""
        try:
            return call()
        except Exception as exc:
            raise IndexFormatError(f"the Qdrant shard of the index at {self.path} failed to {action}: {exc}") from exc
        except BaseException as exc:  # pyo3's PanicException derives from BaseException
            if type(exc).__name__ != "PanicException":
                raise
            raise IndexFormatError(f"the Qdrant shard of the index at {self.path} failed to {action}: {exc}") from exc

    @property
    def shard(self) -> qe.EdgeShard:
        if self._lock is None:
            raise IndexFormatError(f"the index at {self.path} is closed")
        if self._shard is None:
            shard_dir = self.path / SHARD_DIR
            if not shard_dir.is_dir():
                raise IndexFormatError(f"the index at {self.path} has no {SHARD_DIR}/ directory: its data is gone")
            check_id_trackers(shard_dir)  # damage the engine would abort the process on
            self._shard = self._engine("open", lambda: qe.EdgeShard.load(str(shard_dir)))
        return self._shard

    def exists(self) -> bool:
        return (self.path / MANIFEST_FILE).is_file()

    def create(self, manifest: Manifest) -> None:
        shard_dir = self.path / SHARD_DIR
        if shard_dir.exists():  # never delete what this call did not create
            raise IndexFormatError(
                f"{self.path} holds a Qdrant shard ({SHARD_DIR}/) but no {MANIFEST_FILE}: an index whose manifest "
                "was lost, or a creation that died. Nothing was changed; remove the directory yourself if it is "
                "not needed, or restore its manifest"
            )
        try:
            self._shard = self._engine("be created", lambda: qe.EdgeShard.create(str(shard_dir), _config(manifest, self.settings)))
            self._engine("flush", self._shard.flush)
            write_manifest(self.path, manifest)
        except BaseException:  # undo this call's own work only
            self._close_shard()
            shutil.rmtree(shard_dir, ignore_errors=True)
            raise

    def drop(self) -> None:
        """Delete the index: its own files (manifest, shard, lock) only; the directory too when
        nothing else is in it."""
        self._close_shard()
        (self.path / MANIFEST_FILE).unlink(missing_ok=True)
        shutil.rmtree(self.path / SHARD_DIR, ignore_errors=True)
        self._release()
        self._remove_lock_and_directory()

    def check_schema(self, manifest: Manifest) -> None:
        """Raise :class:`IndexFormatError` unless the shard's stored vectors are the ones the
        manifest describes (names, sizes, storage type), and the shard opens."""
        config_file = self.path / SHARD_DIR / "edge_config.json"
        try:
            stored = json.loads(config_file.read_text(encoding="utf-8"))
            vectors, sparse = stored["vectors"], stored.get("sparse_vectors") or {}
            found = {name: (v["size"], v.get("datatype", "float32")) for name, v in vectors.items()}
        except FileNotFoundError:
            raise IndexFormatError(f"the index at {self.path} lacks its shard configuration ({config_file})") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IndexFormatError(f"{config_file}: damaged shard configuration ({exc})") from exc
        found.update({name: ("sparse", None) for name in sparse})
        expected = _schema(manifest)
        if found != expected:
            raise IndexFormatError(
                f"{self.path / MANIFEST_FILE} disagrees with the shard it describes: the manifest gives "
                f"{_show(expected)}, the shard holds {_show(found)}; restore the right manifest or rebuild the index"
            )
        self.shard  # noqa: B018 - open it now, so that damage shows at open, not at the first query

    def load_manifest(self) -> Manifest:
        return read_manifest(self.path)

    def replace_manifest(self, manifest: Manifest) -> None:
        write_manifest(self.path, manifest)

    def upsert(self, points: list[PointData]) -> None:
        edge_points = [
            qe.Point(id=p.pid, vector={k: _vector(k, v) for k, v in p.vectors.items()}, payload=p.payload) for p in points
        ]
        shard = self.shard
        self._engine("write", lambda: shard.update(qe.UpdateOperation.upsert_points(edge_points)))

    def delete(self, pids: list[str]) -> None:
        shard = self.shard
        self._engine("delete", lambda: shard.update(qe.UpdateOperation.delete_points(list(pids))))

    def retrieve(self, pids: list[str], with_vectors: bool, fields: list[str] | None = None) -> list[StoredPoint]:
        shard = self.shard
        payload: Any = True if fields is None else list(fields)
        records = self._engine("read", lambda: shard.retrieve(list(pids), with_payload=payload, with_vector=with_vectors))
        return [_stored(r) for r in records]

    def scroll(self, offset: Any, limit: int) -> tuple[list[StoredPoint], Any]:
        request = qe.ScrollRequest(offset=offset, limit=limit, with_payload=True, with_vector=True)
        shard = self.shard
        records, next_offset = self._engine("read", lambda: shard.scroll(request))
        return [_stored(r) for r in records], next_offset

    def count(self, conditions: dict[str, Any] | None) -> int:
        request = qe.CountRequest(filter=_filter(conditions), exact=True)
        shard = self.shard
        return int(self._engine("count", lambda: shard.count(request)))

    def query_batch(self, queries: list[VectorQuery]) -> list[list[ScoredId]]:
        if not queries:
            return []
        requests = [
            qe.QueryRequest(
                limit=q.limit, query=qe.Query.Nearest(_vector(q.using, q.vector), using=q.using),
                filter=_filter(q.conditions, q.point_ids), params=_search_params(q),
                with_payload=["id"] if q.with_doc_ids else False,
            )
            for q in queries
        ]
        shard = self.shard
        results = self._engine("search", lambda: shard.query_batch(qe.QueryBatchRequest(requests)))
        return [[ScoredId(_pid(p.id), p.score, p.payload["id"] if p.payload else "") for p in points] for points in results]

    def flush(self) -> None:
        self._engine("flush", self.shard.flush)

    def optimize(self) -> None:
        self._engine("optimize", self.shard.optimize)

    def close(self) -> None:
        """Close the shard and release the lock (idempotent). A directory this backend made
        for an index that was never created is removed again."""
        try:
            self._close_shard()
        finally:
            self._release()
            if self._made_dir and not self.exists():
                self._remove_lock_and_directory()

    def _remove_lock_and_directory(self) -> None:
        """The lock file, and the directory when nothing else is left in it."""
        (self.path / LOCK_FILE).unlink(missing_ok=True)
        try:
            self.path.rmdir()
        except OSError:  # not empty: someone else's files stay
            pass

    def _close_shard(self) -> None:
        if self._shard is not None:
            shard, self._shard = self._shard, None
            self._engine("close", shard.close)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def on_disk(self) -> bool:
        """Whether the shard's vectors live on disk (the ``cold`` tier), as its configuration records."""
        try:
            stored = json.loads((self.path / SHARD_DIR / "edge_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return any(v.get("memory") == "cold" for v in stored.get("vectors", {}).values())

    def disk_bytes(self) -> int | None:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
