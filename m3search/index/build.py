"""Build or extend an index from a JSONL corpus: encode in chunks, add each chunk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io.jsonl import Record
from ..progress import progress_bar
from .index import Index

#: Documents encoded and written per step: bounds memory, and each step is durable once added.
CHUNK = 1024


def index_records(
    encoder: Any,
    records: Sequence[Record],
    path: str | Path,
    *,
    parts: Sequence[str] | None = None,
    colbert_storage: str = "float16",
    batch_size: int = 64,
    show_progress: bool = True,
) -> Index:
    """Encode ``records`` as documents and upsert them into the index at ``path`` (created if
    missing; an existing one must have been built by the same encoder)."""
    path = Path(path)
    if (path / "manifest.json").is_file():
        index = Index.open(path, encoder_identity=encoder.identity)
    else:
        index = Index.create(path, encoder.identity, parts=parts, colbert_storage=colbert_storage)
    with progress_bar(len(records), "index", "doc", show_progress) as progress:
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            embeddings = encoder.encode([r.text for r in chunk], parts=index.parts, batch_size=batch_size,
                                        show_progress=False)
            index.add([r.id for r in chunk], embeddings, texts=[r.text for r in chunk],
                      metadata=[r.metadata for r in chunk], show_progress=False)
            progress.update(len(chunk))
    return index
