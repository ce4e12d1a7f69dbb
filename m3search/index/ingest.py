"""Build or extend an index from a JSONL corpus: encode in chunks, add each chunk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidDocumentError
from ..io.jsonl import Record
from ..progress import progress_bar
from .facade import Index, check_metadata
from .lock import DEFAULT_WAIT

#: Documents encoded and written per step: bounds memory, and each step is durable once added.
CHUNK = 1024


def index_records(
    encoder: Any,
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
) -> Index:
    """Encode ``records`` as documents and upsert them into the index at ``path`` (a directory,
    a Qdrant URL or a backend; ``settings`` lays out a new Qdrant collection, ``compression``
    pools multi-vectors and prunes sparse weights in a new index); returns it open.

    The index is created if missing (under its lock, so concurrent builders make one index); an
    existing one must have been built by the same encoder, and ``parts``/``colbert_storage``, when
    given, must be what it holds. Every record is checked before the index is touched (ids unique
    non-empty strings, texts non-empty strings, metadata plain JSON), so bad input writes nothing;
    a failure after that is the model's or the disk's: if it happens before the first chunk is
    written to a new index, that index is removed again (only its own files), so a failed first
    run leaves nothing behind.
    """
    check_records(records)
    index, created = Index.open_or_create(path, encoder.identity, parts=parts, colbert_storage=colbert_storage,
                                          wait=wait, settings=settings, compression=compression)
    written = 0
    try:
        with progress_bar(len(records), "index", "doc", show_progress) as progress:
            for start in range(0, len(records), CHUNK):
                chunk = records[start : start + CHUNK]
                embeddings = encoder.encode([r.text for r in chunk], parts=index.parts, batch_size=batch_size,
                                            show_progress=False)
                index.add([r.id for r in chunk], embeddings, texts=[r.text for r in chunk],
                          metadata=[r.metadata for r in chunk], show_progress=False)
                written += len(chunk)
                progress.update(len(chunk))
    except BaseException:
        if created and written == 0:
            index.drop()
        else:
            index.close()
        raise
    return index


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
