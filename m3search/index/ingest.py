"""Build or extend an index from a corpus: the one ingestion loop (no torch).

:func:`ingest` checks the records, opens or creates the index, writes each batch of encoded
documents that an encoding source hands it, and counts every document once; a source is any
function from the open index to an iterable of ``(record rows, embeddings)``.
:func:`index_records` feeds it from one encoder, chunk by chunk, in this process;
:func:`m3search.scale.ray_encode.index_records_ray` feeds it from a Ray actor pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidDocumentError, M3SearchError
from ..io.jsonl import Record
from ..progress import progress_bar
from ..types import Embeddings
from .documents import check_metadata
from .facade import Index
from .lock import DEFAULT_WAIT
from .options import IndexOptions

if TYPE_CHECKING:
    from ..protocols import EncoderLike

#: Documents encoded and written per step: bounds memory, and each step is durable once added.
CHUNK = 1024
#: ``(rows of the records, their embeddings)``: one batch an encoding source hands the loop.
Batch = tuple[np.ndarray, Embeddings]
#: What encodes: the open index (its parts) -> the batches, in any order, a batch possibly twice.
Source = Callable[[Index], Iterable[Batch]]


def ingest(records: Sequence[Record], target: str | Path | Any, identity: Mapping[str, Any], source: Source, *,
           options: IndexOptions | None = None, wait: float = DEFAULT_WAIT, show_progress: bool = True,
           label: str = "index", checked: bool = False) -> Index:
    """Write the documents ``source`` encodes from ``records`` into the index at ``target``
    (created for the encoder ``identity`` describes, with ``options``, when missing); returns it open.

    Every record is checked before the index is touched (ids unique non-empty strings, texts
    non-empty strings, metadata plain JSON), so bad input writes nothing. A batch handed twice
    (a retried worker) replaces itself; at the end every record must have arrived. A failure
    before the first batch is written to a new index removes that index again (only its own
    files), so a failed first run leaves nothing behind. ``checked``: the caller has already run
    :func:`check_records` on them.
    """
    if not checked:
        check_records(records)
    index, created = Index.open_or_create(target, identity, options=options or IndexOptions(), wait=wait)
    written: set[int] = set()
    try:
        with progress_bar(len(records), label, "doc", show_progress) as progress:
            for rows, embeddings in source(index):
                chunk = [records[int(r)] for r in rows]
                index.add([r.id for r in chunk], embeddings, texts=[r.text for r in chunk],
                          metadata=[r.metadata for r in chunk], show_progress=False)
                fresh = {int(r) for r in rows} - written
                written |= fresh
                progress.update(len(fresh))
        if len(written) != len(records):
            raise M3SearchError(f"{len(written)} of {len(records)} documents were encoded; the index holds what came back")
    except BaseException:
        if created and not written:
            index.drop()
        else:
            index.close()
        raise
    return index


def index_records(
    encoder: EncoderLike,
    records: Sequence[Record],
    path: str | Path | Any,
    *,
    parts: Sequence[str] | None = None,
    colbert_storage: str | None = None,
    batch_size: int = 64,
    show_progress: bool = True,
    wait: float = DEFAULT_WAIT,
    settings: Any = None,
    compression: Mapping[str, Any] | None = None,
    options: IndexOptions | None = None,
) -> Index:
    """Encode ``records`` as documents and upsert them into the index at ``path`` (a directory,
    a Qdrant URL or a backend); returns it open. ``options`` (:class:`~m3search.index.IndexOptions`),
    or the keywords ``parts``, ``colbert_storage``, ``settings`` (the layout of a new shard or
    collection) and ``compression`` (pooled multi-vectors, pruned sparse weights), describe a new
    index.

    The index is created if missing (under its lock, so concurrent builders make one index); an
    existing one must have been built by the same encoder, and the options given must be what it
    holds. See :func:`ingest` for the checks and what a failure leaves.
    """
    chosen = IndexOptions.of(options, parts=parts, colbert_storage=colbert_storage, settings=settings,
                             compression=compression)

    def chunks(index: Index) -> Iterator[Batch]:
        for start in range(0, len(records), CHUNK):
            texts = [r.text for r in records[start : start + CHUNK]]
            yield (np.arange(start, start + len(texts)),
                   encoder.encode(texts, parts=index.parts, batch_size=batch_size, show_progress=False))

    return ingest(records, path, encoder.identity, chunks, options=chosen, wait=wait, show_progress=show_progress)


def check_records(records: Sequence[Record]) -> None:
    """Raise :class:`~m3search.errors.InvalidDocumentError` for the first record an index cannot take."""
    seen: set[str] = set()
    for record in records:
        if not isinstance(record.id, str) or not record.id:
            raise InvalidDocumentError(f"document id {record.id!r} is not a non-empty string")
        if record.id in seen:
            raise InvalidDocumentError(f"document {record.id!r} appears twice")
        seen.add(record.id)
        if not isinstance(record.text, str) or not record.text.strip():
            raise InvalidDocumentError(f"document {record.id!r}: the text is empty or not a string")
        check_metadata(record.id, record.metadata)
