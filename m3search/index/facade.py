"""An index of dense, sparse and multi-vector representations on the Qdrant engine (no torch).

One Qdrant point per document: named vector ``dense`` (HNSW, dot product on normalised
vectors; for an encoder with ``window_dense="best"`` a multivector of the document's window
vectors, MaxSim, so that one query row scores the document by its best window), sparse vector ``sparse`` (learned weights, no IDF modifier), multivector ``colbert``
(MaxSim, HNSW off: used to rescore; float16 storage by default, float32 or uint8 on request,
see :mod:`~m3search.index.codecs`) and a payload with the
document's own string id, its text and its metadata (under ``meta``). String ids map to
Qdrant ids with UUID5, so the same id always lands on the same point.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError, InputError, InvalidDocumentError
from ..progress import progress_bar
from ..types import PARTS, Embeddings, SparseVector
from . import codecs
from .backends.engine import META, Backend, PointData, ScoredId, VectorQuery, is_url
from .lock import DEFAULT_WAIT
from .manifest import COLBERT_STORAGE, Manifest

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


@dataclass(frozen=True)
class QuerySpec:
    """One batch of queries against one part: what :meth:`Index.query` takes, for :meth:`Index.query_many`."""

    mode: str
    queries: Embeddings
    limit: int
    filter: Mapping[str, Any] | None = None
    exact: bool = False
    restrict_to: Sequence[Sequence[str]] | None = None
    #: read each hit's document id from its payload; without it hits carry their point id only
    #: (``doc_id == ""``) and :meth:`Index.doc_ids` names the few a caller keeps
    doc_ids: bool = True


def _stored_dense(stored: Any, windows: bool) -> np.ndarray:
    """A document's one dense vector; for stored windows, their normalised mean (the windows'
    token counts are not stored, so this is the plain mean)."""
    vectors = np.asarray(stored, np.float32)
    if not windows:
        return vectors
    mean = vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def _backend_for(target: str | Path | Backend, *, wait: float, create_dir: bool = False,
                 settings: Any = None) -> Backend:
    """The backend a target names: a Qdrant URL, a directory (an embedded shard), or a backend."""
    if is_url(target):
        try:
            from .backends.remote import from_url
        except ImportError as exc:
            raise ConfigurationError(f'an index on a Qdrant server ({target}) needs qdrant-client: pip install "m3search[remote]"') from exc
        from .backends.edge import ShardSettings
        from .backends.remote import CollectionSettings

        if isinstance(settings, ShardSettings):  # --on-disk means the same on a server
            settings = CollectionSettings(on_disk=settings.on_disk)
        return from_url(str(target), settings)
    if isinstance(target, (str, Path)):
        from .backends.edge import EdgeBackend, ShardSettings

        if settings is not None and not isinstance(settings, ShardSettings):
            raise ConfigurationError(f"{target} is an index directory: shards, replicas and payload indexes lay out a "
                                     "collection on a Qdrant server (http://host:6333/name)")
        return EdgeBackend(target, wait=wait, create_dir=create_dir, settings=settings)
    return target


def _new_manifest(encoder_identity: Mapping[str, Any], parts: Iterable[str] | None, colbert_storage: str,
                  compression: Mapping[str, Any] | None = None) -> Manifest:
    parts = None if parts is None else tuple(parts)  # a generator is read once
    available = tuple(encoder_identity["parts"])
    chosen = tuple(p for p in PARTS if p in (available if parts is None else parts))
    unknown = [p for p in (parts or ()) if p not in available]
    if unknown or not chosen:
        raise ConfigurationError(f"parts {list(parts or ())} not all produced by the encoder, which gives {list(available)}")
    if colbert_storage not in COLBERT_STORAGE:
        raise ConfigurationError(f"colbert_storage must be one of {COLBERT_STORAGE}, got {colbert_storage!r}")
    extra = {"compression": _check_compression(compression)} if compression else {}
    return Manifest(encoder=dict(encoder_identity), parts=chosen, colbert_storage=colbert_storage, extra=extra)


COMPRESSION_KEYS = ("colbert_pool_factor", "sparse_top_k", "sparse_min_weight")


def _check_compression(compression: Mapping[str, Any]) -> dict[str, Any]:
    """The non-default storage reductions (see :mod:`~m3search.index.pooling`), checked."""
    from .pooling import check_settings

    unknown = set(compression) - set(COMPRESSION_KEYS)
    if unknown:
        raise ConfigurationError(f"unknown compression setting(s) {sorted(unknown)}; known: {list(COMPRESSION_KEYS)}")
    check_settings(compression.get("colbert_pool_factor", 1), compression.get("sparse_top_k"),
                   compression.get("sparse_min_weight"))
    return {k: v for k, v in compression.items() if v is not None and not (k == "colbert_pool_factor" and v == 1)}


class Index:
    """Open with :meth:`open`, make with :meth:`create` (or :meth:`open_or_create`); ``target`` is
    a directory (an embedded qdrant-edge shard) or a backend such as
    :class:`~m3search.index.QdrantClientBackend`.

    An index in a directory is held by one process at a time (see :mod:`~m3search.index.lock`):
    ``wait`` is how many seconds to wait for another holder before
    :class:`~m3search.errors.IndexLockedError`. Close it (or use ``with``) to let others in.
    """

    def __init__(self, backend: Backend, manifest: Manifest) -> None:
        self.backend = backend
        self.manifest = manifest

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(
        cls,
        target: str | Path | Backend,
        encoder_identity: Mapping[str, Any],
        *,
        parts: Iterable[str] | None = None,
        colbert_storage: str = "float16",
        wait: float = DEFAULT_WAIT,
        settings: Any = None,
        compression: Mapping[str, Any] | None = None,
    ) -> Index:
        """A new empty index for the encoder described by ``encoder_identity``
        (:attr:`Encoder.identity <m3search.encode.Encoder.identity>`), holding ``parts``
        (default: all the encoder produces). An index already there is a
        :class:`ConfigurationError`; a directory holding a shard without a manifest an
        :class:`IndexFormatError` (nothing is deleted)."""
        manifest = _new_manifest(encoder_identity, parts, colbert_storage, compression)
        backend = _backend_for(target, wait=wait, create_dir=True, settings=settings)
        try:
            if backend.exists():
                raise ConfigurationError(f"an index already exists at {target}; open it, or choose another place")
            backend.create(manifest)
        except BaseException:
            backend.close()
            raise
        return cls(backend, manifest)

    @classmethod
    def open(cls, target: str | Path | Backend, *, encoder_identity: Mapping[str, Any] | None = None,
             wait: float = DEFAULT_WAIT) -> Index:
        """An existing index; with ``encoder_identity``, refuse it unless that encoder built it.

        The manifest is checked against the shard (parts, dimensions, storage) and the shard is
        opened, so a damaged index is an :class:`IndexFormatError` here, not at the first query."""
        backend = _backend_for(target, wait=wait)
        try:
            manifest = backend.load_manifest()
            backend.check_schema(manifest)
            if encoder_identity is not None:
                manifest.check_encoder(dict(encoder_identity))
        except BaseException:
            backend.close()
            raise
        return cls(backend, manifest)

    @classmethod
    def open_or_create(
        cls,
        target: str | Path | Backend,
        encoder_identity: Mapping[str, Any],
        *,
        parts: Iterable[str] | None = None,
        colbert_storage: str | None = None,
        wait: float = DEFAULT_WAIT,
        settings: Any = None,
        compression: Mapping[str, Any] | None = None,
    ) -> tuple[Index, bool]:
        """``(index, created)``: the index in directory ``target``, made if missing, decided under
        its lock so that concurrent creators make one index (``target`` may also be a Qdrant URL
        or backend; ``settings``, a :class:`~m3search.index.backends.remote.CollectionSettings`,
        lays out a new collection, a :class:`~m3search.index.backends.edge.ShardSettings` a new
        embedded shard). When it exists, it must have been
        built by this encoder, and ``parts``/``colbert_storage`` (when given) must be what it
        holds: a differing option is a :class:`ConfigurationError`, not silently ignored."""
        wanted = _new_manifest(encoder_identity, parts, colbert_storage or "float16", compression)
        backend = _backend_for(target, wait=wait, create_dir=True, settings=settings)
        try:
            if not backend.exists():
                backend.create(wanted)  # the lock is held: nobody created it since we looked
                return cls(backend, wanted), True
            manifest = backend.load_manifest()
            backend.check_schema(manifest)
            manifest.check_encoder(dict(encoder_identity))
            if parts is not None and wanted.parts != manifest.parts:
                raise ConfigurationError(
                    f"the index at {target} holds parts {list(manifest.parts)}, not {list(wanted.parts)}: "
                    "an existing index keeps its parts (leave the option out, or build a new index)"
                )
            if colbert_storage is not None and "colbert" in manifest.parts and colbert_storage != manifest.colbert_storage:
                raise ConfigurationError(
                    f"the index at {target} stores multi-vectors as {manifest.colbert_storage}, not {colbert_storage}: "
                    "an existing index keeps its storage (leave the option out, or build a new index)"
                )
            on_disk = getattr(backend, "on_disk", None)
            if getattr(settings, "on_disk", False) and callable(on_disk) and not on_disk():
                raise ConfigurationError(
                    f"the index at {target} keeps its vectors in memory, not on disk: an existing index keeps its "
                    "layout (leave --on-disk out, or build a new index with it)"
                )
            if compression is not None and wanted.compression != manifest.compression:
                raise ConfigurationError(
                    f"the index at {target} was built with compression {manifest.compression}, not {wanted.compression}: "
                    "an existing index keeps its own (leave the options out, or build a new index)"
                )
        except BaseException:
            backend.close()
            raise
        return cls(backend, manifest), False

    def drop(self) -> None:
        """Delete this index: its own files only (manifest, shard, lock), or the remote collection."""
        self.backend.drop()

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Index:  # noqa: PYI034 - Index is not subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def parts(self) -> tuple[str, ...]:
        return self.manifest.parts

    # ------------------------------------------------------------------ writing
    def add(
        self,
        ids: Sequence[str],
        embeddings: Embeddings,
        *,
        texts: Sequence[str] | None = None,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        batch_size: int = 256,
        show_progress: bool | None = None,
    ) -> int:
        """Upsert documents by id; returns how many were written.

        Args:
            ids: one string id per document (re-adding an id replaces that document).
            embeddings: their :class:`~m3search.types.Embeddings`, with every part the index holds.
            texts: the texts, stored for display and explanations (optional).
            metadata: one JSON-able dict per document, for filters (optional).
            batch_size: documents per engine write.
            show_progress: a progress bar (default: from 256 documents on).

        Every document is checked first (all parts present, dimensions, finite values, ids
        unique within the call, JSON metadata), so a bad one raises
        :class:`InvalidDocumentError` naming it before anything is written. Documents go in
        batches, each document whole; the data is flushed before this returns.

        >>> import tempfile; import numpy as np
        >>> identity = {"name": "toy", "dim": 2, "parts": ["dense"]}
        >>> index = Index.create(tempfile.mkdtemp() + "/idx", identity)
        >>> index.add(["a", "b"], Embeddings(dense=np.eye(2, dtype=np.float32)), texts=["x", "y"],
        ...           metadata=[{"lang": "de"}, {"lang": "en"}])
        2
        >>> index.count({"lang": "en"})
        1
        >>> index.close()
        """
        if isinstance(ids, (str, bytes)):
            raise TypeError("ids must be a list of strings, not a single string: wrap it in a list")
        ids = list(ids)
        if self.manifest.compression:
            from .pooling import compress, compress_options

            embeddings = compress(embeddings, **compress_options(self.manifest.compression))
        self._validate(ids, embeddings, texts, metadata)
        with progress_bar(len(ids), "index", "doc", show_progress) as progress:
            for start in range(0, len(ids), batch_size):
                rows = range(start, min(start + batch_size, len(ids)))
                self.backend.upsert([self._point(i, ids[i], embeddings, texts, metadata) for i in rows])
                progress.update(len(rows))
        self.backend.flush()
        return len(ids)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of strings, not a single string")
        self.backend.delete([point_id(i) for i in ids])
        self.backend.flush()

    # ------------------------------------------------------------------ reading
    def get(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Document | None]:
        """The stored documents, in the order asked; ``None`` for an id the index lacks."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of strings, not a single string")
        found = {p.payload["id"]: p for p in self.backend.retrieve([point_id(i) for i in ids], with_vectors)}
        out: list[Document | None] = []
        for doc_id in ids:
            point = found.get(doc_id)
            if point is None:
                out.append(None)
                continue
            v = point.vectors
            sparse = None
            if "sparse" in v:
                indices, values = v["sparse"]
                order = np.argsort(indices)
                sparse = SparseVector(np.asarray(indices, np.int64)[order], np.asarray(values, np.float32)[order])
            out.append(Document(
                id=point.payload["id"], text=point.payload.get("text"), metadata=dict(point.payload.get(META, {})),
                dense=_stored_dense(v["dense"], self.manifest.dense_windows) if "dense" in v else None,
                dense_windows=np.asarray(v["dense"], np.float32) if "dense" in v and self.manifest.dense_windows else None,
                sparse=sparse,
                colbert=self._stored_colbert(v["colbert"]) if "colbert" in v else None,
            ))
        return out

    def doc_ids(self, pids: Iterable[Any]) -> dict[str, str]:
        """``{str(point id): document id}`` for hits that came without document ids
        (:class:`QuerySpec` with ``doc_ids=False``); points deleted since are left out.

        >>> import tempfile; import numpy as np
        >>> index = Index.create(tempfile.mkdtemp() + "/idx", {"name": "toy", "dim": 2, "parts": ["dense"]})
        >>> _ = index.add(["a", "b"], Embeddings(dense=np.eye(2, dtype=np.float32)))
        >>> q = Embeddings(dense=np.array([[0.6, 0.8]], np.float32))
        >>> hits = index.query_many([QuerySpec("dense", q, 2, doc_ids=False)])[0][0]
        >>> [h.doc_id for h in hits], list(index.doc_ids(h.pid for h in hits).values())
        (['', ''], ['b', 'a'])
        >>> index.close()
        """
        wanted = list(dict.fromkeys(str(p) for p in pids))  # a backend spells ids the same way in and out
        if not wanted:
            return {}
        found = {str(p.pid): p.payload["id"] for p in self.backend.retrieve(wanted, False, fields=["id"])}
        return {p: found[p] for p in wanted if p in found}

    @property
    def _uint8(self) -> bool:
        return self.manifest.colbert_storage == "uint8"

    def _stored_colbert(self, stored: Any) -> np.ndarray:
        rows = np.asarray(stored, np.float32)
        return codecs.decode_documents(rows, self.manifest.colbert_dim or 0) if self._uint8 else rows

    def count(self, filter: Mapping[str, Any] | None = None) -> int:
        """Number of documents (matching ``filter``, a ``{metadata field: value}`` mapping)."""
        return self.backend.count(dict(filter) if filter else None)

    def query(
        self,
        mode: str,
        queries: Embeddings,
        limit: int,
        *,
        filter: Mapping[str, Any] | None = None,
        exact: bool = False,
        restrict_to: Sequence[Sequence[str]] | None = None,
    ) -> list[list[ScoredId]]:
        """Nearest documents per query for one mode (``dense``, ``sparse`` or ``colbert``).

        Args:
            mode: the part to search.
            queries: encoded queries holding that part.
            limit: hits per query.
            filter: ``{metadata field: value or list of values}``.
            exact: exhaustive search instead of the HNSW graph.
            restrict_to: point ids per query; only those documents are scored (how candidates
                are rescored exactly); those hits carry no document id (the caller knows it)
                and come back unsorted.

        Scores equal :mod:`m3search.scoring`'s: the multi-vector sum Qdrant returns is divided
        by the number of query vectors.

        >>> import tempfile; import numpy as np
        >>> index = Index.create(tempfile.mkdtemp() + "/idx", {"name": "toy", "dim": 2, "parts": ["dense"]})
        >>> _ = index.add(["a", "b"], Embeddings(dense=np.eye(2, dtype=np.float32)))
        >>> hits = index.query("dense", Embeddings(dense=np.array([[0.6, 0.8]], np.float32)), 2)[0]
        >>> [(h.doc_id, round(h.score, 3)) for h in hits]
        [('b', 0.8), ('a', 0.6)]
        >>> index.close()
        """
        return self.query_many([QuerySpec(mode, queries, limit, filter, exact, restrict_to)])[0]

    def query_many(self, specs: Sequence[QuerySpec]) -> list[list[list[ScoredId]]]:
        """:meth:`query` for several specs (parts, limits, restrictions) in one engine round trip.

        >>> import tempfile; import numpy as np
        >>> index = Index.create(tempfile.mkdtemp() + "/idx", {"name": "toy", "dim": 2, "parts": ["dense"]})
        >>> _ = index.add(["a", "b"], Embeddings(dense=np.eye(2, dtype=np.float32)))
        >>> q = Embeddings(dense=np.array([[0.6, 0.8]], np.float32))
        >>> [[h.doc_id for h in hits[0]] for hits in index.query_many([QuerySpec("dense", q, 1), QuerySpec("dense", q, 2)])]
        [['b'], ['b', 'a']]
        >>> index.close()
        """
        prepared = [self._prepare(spec) for spec in specs]
        answered = iter(self.backend.query_batch([r for requests, _ in prepared for r in requests if r is not None]))
        out = []
        for spec, (requests, encoded) in zip(specs, prepared):
            results = [[] if request is None else next(answered) for request in requests]
            out.append(self._finish(spec, results, encoded))
        return out

    def _prepare(self, spec: QuerySpec) -> tuple[list[VectorQuery | None], dict[int, np.ndarray]]:
        """The engine requests of one spec (``None`` where a query has nothing to search)."""
        mode, queries, restrict_to = spec.mode, spec.queries, spec.restrict_to
        if mode not in self.parts:
            raise ConfigurationError(f"this index holds {list(self.parts)}, not {mode!r}")
        if getattr(queries, mode) is None:
            raise ConfigurationError(f"the query embeddings lack the {mode!r} part")
        requests: list[VectorQuery | None] = []
        encoded: dict[int, np.ndarray] = {}
        for i in range(len(queries)):
            vector, empty = _query_vector(mode, queries, i)
            if mode == "dense" and self.manifest.dense_windows:
                vector = np.asarray([vector], dtype=np.float32)  # one query row: MaxSim = the best window's score
            if mode == "colbert" and self._uint8 and not empty:
                encoded[i] = codecs.encode_queries(queries.need_colbert()[i])
                vector = encoded[i]
            ids = None if restrict_to is None else tuple(restrict_to[i])
            if empty or (ids is not None and not ids):
                requests.append(None)
                continue
            requests.append(VectorQuery(mode, vector, spec.limit, dict(spec.filter) if spec.filter else None, ids,
                                        spec.exact, with_doc_ids=ids is None and spec.doc_ids))
        return requests, encoded

    def _finish(self, spec: QuerySpec, results: list[list[ScoredId]], encoded: dict[int, np.ndarray]) -> list[list[ScoredId]]:
        """Ranked (or, for restricted requests, looked-up) hits with scores on m3search's scale."""
        # Ties come back in engine order, and engines round differently (float32 vs float64
        # accumulation): treat scores equal to 6 decimals as tied and break ties by id, so that
        # every backend ranks the same (hits without document ids: by point id, the same UUID5 on
        # every backend).
        if spec.restrict_to is None:  # rescoring hits are looked up by id, not ranked
            # (a request's hits all have document ids or none: the key compares like with like)
            results = [sorted(hits, key=lambda s: (-round(s.score, 6), s.doc_id or s.pid)) for hits in results]
        if spec.mode == "colbert":
            lengths = spec.queries.need_colbert().lengths
            dim = self.manifest.colbert_dim or 0

            offsets = {i: codecs.query_offset(q, dim) for i, q in encoded.items()}  # once per query, not per hit

            def maxsim(i: int, raw: float) -> float:
                total = codecs.decode_maxsim(raw, encoded[i], dim, offsets[i]) if i in encoded else raw
                return total / int(lengths[i])

            results = [[ScoredId(s.pid, maxsim(i, s.score), s.doc_id) for s in hits] for i, hits in enumerate(results)]
        return results

    def disk_bytes(self) -> int | None:
        """Bytes the index takes on disk (``None`` for a remote collection)."""
        return self.backend.disk_bytes()

    def optimize(self) -> None:
        """Let the engine merge segments and build its HNSW index now rather than in the background."""
        self.backend.optimize()

    # ------------------------------------------------------------------ helpers
    def _validate(self, ids: list[str], e: Embeddings, texts: Sequence[str] | None,
                  metadata: Sequence[Mapping[str, Any]] | None) -> None:
        if len(ids) != len(e):
            raise InvalidDocumentError(f"{len(ids)} ids but {len(e)} embeddings")
        for name, values in (("texts", texts), ("metadata", metadata)):
            if values is not None and len(values) != len(ids):
                raise InvalidDocumentError(f"{len(ids)} ids but {len(values)} {name}")
        seen: set[str] = set()
        for doc_id in ids:
            if not isinstance(doc_id, str) or not doc_id:
                raise InvalidDocumentError(f"document id {doc_id!r} is not a non-empty string")
            if doc_id in seen:
                raise InvalidDocumentError(f"document {doc_id!r} appears twice in one add() call")
            seen.add(doc_id)
        for part in self.parts:
            if getattr(e, part) is None and ids:
                raise InvalidDocumentError(f"document {ids[0]!r} lacks the {part} part this index holds")
        m = self.manifest
        if "dense" in self.parts and len(ids):
            dense = e.need_dense()
            if dense.ndim != 2 or dense.shape[1] != m.dim:
                raise InvalidDocumentError(f"document {ids[0]!r}: dense dimension {dense.shape[1:]} is not ({m.dim},)")
            bad = np.flatnonzero(~np.isfinite(dense).all(axis=1))
            if len(bad):
                raise InvalidDocumentError(f"document {ids[bad[0]]!r}: dense vector holds NaN or infinite values")
            windows = e.dense_windows
            if m.dense_windows and windows is not None:
                if windows.dim != m.dim:
                    raise InvalidDocumentError(f"document {ids[0]!r}: dense window dimension {windows.dim} is not {m.dim}")
                for doc_id, rows in zip(ids, windows):
                    if len(rows) == 0 or not np.isfinite(rows).all():
                        raise InvalidDocumentError(f"document {doc_id!r}: no dense windows, or NaN or infinite values")
        if "sparse" in self.parts:
            for doc_id, vector in zip(ids, e.need_sparse()):
                if not np.isfinite(vector.weights).all():
                    raise InvalidDocumentError(f"document {doc_id!r}: sparse weights hold NaN or infinite values")
                if len(vector.ids) and (vector.ids.min() < 0 or (m.vocab_size and vector.ids.max() >= m.vocab_size)):
                    raise InvalidDocumentError(f"document {doc_id!r}: sparse token id outside the vocabulary [0, {m.vocab_size})")
        if "colbert" in self.parts and len(ids):
            colbert = e.need_colbert()
            if colbert.dim != m.colbert_dim:
                raise InvalidDocumentError(f"document {ids[0]!r}: multi-vector dimension {colbert.dim} is not {m.colbert_dim}")
            for doc_id, vectors in zip(ids, colbert):
                if len(vectors) == 0:
                    raise InvalidDocumentError(f"document {doc_id!r}: no multi-vector rows")
                if not np.isfinite(vectors).all():
                    raise InvalidDocumentError(f"document {doc_id!r}: multi-vector holds NaN or infinite values")
        for i, meta in enumerate(metadata or ()):
            check_metadata(ids[i], meta)
        for i, text in enumerate(texts or ()):
            if not isinstance(text, str):
                raise InvalidDocumentError(f"document {ids[i]!r}: text is {type(text).__name__}, not str")

    def _point(self, i: int, doc_id: str, e: Embeddings, texts: Sequence[str] | None,
               metadata: Sequence[Mapping[str, Any]] | None) -> PointData:
        vectors: dict[str, Any] = {}
        if "dense" in self.parts:
            if not self.manifest.dense_windows:
                vectors["dense"] = np.ascontiguousarray(e.need_dense()[i], dtype=np.float32)
            else:  # every window's vector (one when the text fits one window, or none were kept)
                windows = e.dense_windows[i] if e.dense_windows is not None else e.need_dense()[i][None]
                vectors["dense"] = np.ascontiguousarray(windows, dtype=np.float32)
        if "sparse" in self.parts:
            v = e.need_sparse()[i]
            vectors["sparse"] = (v.ids.tolist(), v.weights.tolist())
        if "colbert" in self.parts:
            rows = np.ascontiguousarray(e.need_colbert()[i], dtype=np.float32)
            vectors["colbert"] = codecs.encode_documents(rows) if self._uint8 else rows
        payload: dict[str, Any] = {"id": doc_id, META: dict(metadata[i]) if metadata is not None else {}}
        if texts is not None:
            payload["text"] = texts[i]
        return PointData(point_id(doc_id), vectors, payload)


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


def _query_vector(mode: str, queries: Embeddings, i: int) -> tuple[Any, bool]:
    if mode == "dense":
        vector = queries.need_dense()[i]
        if not math.isfinite(float(vector.sum())):
            raise InputError(f"query {i}: the dense vector holds NaN or infinite values")
        return vector.tolist(), False
    if mode == "sparse":
        v = queries.need_sparse()[i]
        return (v.ids.tolist(), v.weights.tolist()), len(v) == 0
    rows = queries.need_colbert()[i]
    return np.ascontiguousarray(rows, dtype=np.float32), len(rows) == 0
