"""Build or extend an index from a JSONL corpus: encode in chunks, add each chunk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io.jsonl import Record
from ..progress import progress_bar
from .index import Index
from .lock import DEFAULT_WAIT

#: Documents encoded and written per step: bounds memory, and each step is durable once added.
CHUNK = 1024


def index_records(
    encoder: Any,
    records: Sequence[Record],
    path: str | Path,
    *,
    parts: Sequence[str] | None = None,
    colbert_storage: str | None = None,
    batch_size: int = 64,
    show_progress: bool = True,
    wait: float = DEFAULT_WAIT,
) -> Index:
    """Encode ``records`` as documents and upsert them into the index at ``path``; returns it open.

    The index is created if missing (under its lock, so concurrent builders make one index); an
    existing one must have been built by the same encoder, and ``parts``/``colbert_storage``, when
    given, must be what it holds. ``records`` are expected to be validated already
    (:func:`~m3search.io.read_jsonl` does), so a failure here is the model's or the disk's: if it
    happens before the first chunk is written to a new index, that index is removed again (only
    its own files), so a failed first run leaves nothing behind.
    """
    index, created = Index.open_or_create(path, encoder.identity, parts=parts, colbert_storage=colbert_storage,
                                          wait=wait)
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
