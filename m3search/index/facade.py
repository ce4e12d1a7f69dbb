"""The index: dense, sparse and multi-vector representations on the Qdrant engine (no torch).

:class:`Index` is a thin facade over named steps: where the index lives and how it is reached
(:mod:`~m3search.index.targets`), what a new one stores (:mod:`~m3search.index.options`), which
named vectors it holds (:mod:`~m3search.index.vectors`), documents in and out
(:mod:`~m3search.index.documents`) and queries (:mod:`~m3search.index.queries`).

Each document is one Qdrant point: named vector ``dense`` (HNSW, dot product on normalised
vectors; for an encoder with ``window_dense="best"`` a multivector of the document's window
vectors, MaxSim, so that one query row scores the document by its best window), sparse vector
``sparse`` (learned weights, no IDF modifier), multivector ``colbert`` (MaxSim, HNSW off: used to
rescore; float16 storage by default, float32 or uint8 on request, see
:mod:`~m3search.index.codecs`) and a payload with the document's own string id, its text and its
metadata (under ``meta``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..progress import progress_bar
from ..types import Embeddings
from . import queries as querying
from .backends.engine import Backend, ScoredId
from .documents import Document, check_documents, check_metadata, point_id, to_document, to_points
from .filters import check_filter
from .lock import DEFAULT_WAIT
from .manifest import Manifest
from .options import IndexOptions
from .queries import QuerySpec
from .targets import create_at, open_at, open_or_create_at

__all__ = ["Document", "Index", "IndexOptions", "QuerySpec", "check_metadata", "point_id"]


class Index:
    """Open with :meth:`open`, make with :meth:`create` (or :meth:`open_or_create`); ``target`` is
    a directory (an embedded qdrant-edge shard), a Qdrant URL or a backend such as
    :class:`~m3search.index.QdrantClientBackend`.

    An index in a directory is held by one process at a time (see :mod:`~m3search.index.lock`):
    ``wait`` is how many seconds to wait for another holder before
    :class:`~m3search.errors.IndexLockedError`. Close it (or use ``with``) to let others in.
    """

    def __init__(self, backend: Backend, manifest: Manifest) -> None:
        self.backend = backend
        self.manifest = manifest
        self.vectors = {spec.name: spec for spec in manifest.vectors}

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(
        cls,
        target: str | Path | Backend,
        encoder_identity: Mapping[str, Any],
        *,
        parts: Iterable[str] | None = None,
        colbert_storage: str | None = None,
        wait: float = DEFAULT_WAIT,
        settings: Any = None,
        compression: Mapping[str, Any] | None = None,
        options: IndexOptions | None = None,
    ) -> Index:
        """A new empty index for the encoder described by ``encoder_identity``
        (:attr:`Encoder.identity <m3search.encode.Encoder.identity>`), holding ``parts``
        (default: all the encoder produces), multi-vectors stored as ``colbert_storage``
        (default float16). ``options`` (:class:`~m3search.index.IndexOptions`) carries the same
        settings in one object; a keyword given as well takes precedence. An index already there
        is a :class:`ConfigurationError`; a directory holding a shard without a manifest an
        :class:`IndexFormatError` (nothing is deleted)."""
        chosen = IndexOptions.of(options, parts=parts, colbert_storage=colbert_storage, settings=settings,
                                 compression=compression)
        manifest = chosen.manifest(encoder_identity)
        return cls(create_at(target, manifest, wait=wait, settings=chosen.settings), manifest)

    @classmethod
    def open(cls, target: str | Path | Backend, *, encoder_identity: Mapping[str, Any] | None = None,
             wait: float = DEFAULT_WAIT) -> Index:
        """An existing index; with ``encoder_identity``, refuse it unless that encoder built it.

        The manifest is checked against the shard (parts, dimensions, storage) and the shard is
        opened, so a damaged index is an :class:`IndexFormatError` here, not at the first query."""
        return cls(*open_at(target, wait=wait, encoder_identity=encoder_identity))

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
        options: IndexOptions | None = None,
    ) -> tuple[Index, bool]:
        """``(index, created)``: the index in directory ``target``, made if missing, decided under
        its lock so that concurrent creators make one index (``target`` may also be a Qdrant URL
        or backend; ``settings``, a :class:`~m3search.index.backends.remote.CollectionSettings`,
        lays out a new collection, a :class:`~m3search.index.backends.edge.ShardSettings` a new
        embedded shard; ``options`` carries them all in one object). When it exists, it must have
        been built by this encoder, and ``parts``/``colbert_storage``/``compression`` (when given)
        must be what it holds: a differing option is a :class:`ConfigurationError`, not silently
        ignored."""
        chosen = IndexOptions.of(options, parts=parts, colbert_storage=colbert_storage, settings=settings,
                                 compression=compression)
        backend, manifest, created = open_or_create_at(target, encoder_identity, chosen, wait=wait)
        return cls(backend, manifest), created

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
        ids = _id_list(ids)
        if self.manifest.compression:
            from .pooling import compress, compress_options

            embeddings = compress(embeddings, **compress_options(self.manifest.compression))
        vectors = tuple(self.vectors.values())
        check_documents(ids, embeddings, texts, metadata, vectors, self.manifest.vocab_size)
        with progress_bar(len(ids), "index", "doc", show_progress) as progress:
            for start in range(0, len(ids), batch_size):
                rows = range(start, min(start + batch_size, len(ids)))
                self.backend.upsert(to_points(ids, embeddings, texts, metadata, vectors, rows))
                progress.update(len(rows))
        self.backend.flush()
        self._record_documents(key for meta in metadata or () for key in meta)
        return len(ids)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        ids = _id_list(ids)
        self._record_documents(removing=len(ids))  # a lower bound first: a kill may come next
        self.backend.delete([point_id(i) for i in ids])
        self.backend.flush()
        self._record_documents()

    def _record_documents(self, fields: Iterable[str] = (), *, removing: int = 0) -> None:
        """Keep in the manifest the metadata fields documents have had (a filter on a field none
        has then says so) and, for an embedded shard, how many documents it held at the last
        write (``removing``: a lower bound before a delete), so that :meth:`open` notices a shard
        that lost them. A server keeps its own count."""
        extra = dict(self.manifest.extra)
        known = set(extra.get("fields") or ())
        extra["fields"] = sorted(known | set(fields))
        if getattr(self.backend, "records_documents", False):
            extra["documents"] = max(0, self.count() - removing)
        if extra != self.manifest.extra:
            self.manifest = replace(self.manifest, extra=extra)
            self.backend.replace_manifest(self.manifest)

    def check_filter_fields(self, filter: Mapping[str, Any] | None) -> None:
        """Refuse a filter on a metadata field no document of this index has had (when the index
        records its fields): it would match nothing without a word."""
        if not filter:
            return
        check_filter(filter)  # the grammar first: a malformed filter is named as such
        known = self.manifest.extra.get("fields")
        if known is None:
            return
        unknown = [field for field in filter if str(field).split(".")[0] not in known]
        if unknown:
            have = ", ".join(known) or "none"
            raise ConfigurationError(f"no document of this index has the metadata field {unknown[0]!r} "
                                     f"(the fields it has: {have})")

    # ------------------------------------------------------------------ reading
    def get(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Document | None]:
        """The stored documents, in the order asked; ``None`` for an id the index lacks."""
        ids = _id_list(ids)
        found = {p.payload["id"]: p for p in self.backend.retrieve([point_id(i) for i in ids], with_vectors)}
        vectors = tuple(self.vectors.values())
        return [to_document(found[doc_id], vectors) if doc_id in found else None for doc_id in ids]

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

    def count(self, filter: Mapping[str, Any] | None = None) -> int:
        """Number of documents (matching ``filter``, a ``{metadata field: value}`` mapping)."""
        self.check_filter_fields(filter)
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
        for spec in specs:
            self.check_filter_fields(spec.filter)
        prepared = [querying.prepare(spec, self.vectors) for spec in specs]
        answered = iter(self.backend.query_batch([r for p in prepared for r in p.requests if r is not None]))
        out = []
        for spec, p in zip(specs, prepared):
            results = [[] if request is None else next(answered) for request in p.requests]
            out.append(querying.finish(spec, results, p))
        return out

    def disk_bytes(self) -> int | None:
        """Bytes the index takes on disk (``None`` for a remote collection)."""
        return self.backend.disk_bytes()

    def optimize(self) -> None:
        """Let the engine merge segments and build its HNSW index now rather than in the background."""
        self.backend.optimize()


def _id_list(ids: Sequence[str]) -> list[str]:
    """``ids`` as a list; a single string is refused, not split into one-letter ids."""
    if isinstance(ids, (str, bytes)):
        raise TypeError("ids must be a list of strings, not a single string: wrap it in a list")
    return list(ids)
