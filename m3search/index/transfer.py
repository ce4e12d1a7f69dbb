"""Move an index between engines: the embedded shard and a Qdrant server, either way.

A copy is the same index elsewhere: the manifest (encoder identity, parts, storage), every
point id, every stored vector as stored (float16, float32 or uint8 codes), every payload
(document id, text, metadata). The target must not exist yet, or be an unfinished copy of the
same index; a copy that fails part-way removes what it created, and one killed part-way is
marked unfinished in its manifest until its last point is written, so a target opens whole or
not at all.

>>> import tempfile; import numpy as np
>>> from m3search.types import Embeddings
>>> root = tempfile.mkdtemp()
>>> with Index.create(root + "/a", {"name": "toy", "dim": 2, "parts": ["dense"]}) as a:
...     _ = a.add(["x", "y"], Embeddings(dense=np.eye(2, dtype=np.float32)), texts=["one", "two"])
...     with copy_index(a, root + "/b", show_progress=False) as b:
...         print(b.count(), b.get(["y"])[0].text)
2 two
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..progress import progress_bar
from .backends.engine import Backend, PointData, StoredPoint
from .facade import Index
from .lock import DEFAULT_WAIT
from .manifest import Manifest
from .targets import backend_for

#: Points per page read from the source and written to the target.
PAGE = 256


def copy_index(source: Index, target: str | Path | Backend, *, settings: Any = None, show_progress: bool | None = None,
               wait: float = DEFAULT_WAIT, origin: str | None = None) -> Index:
    """Copy ``source`` to ``target`` (a directory, a Qdrant URL or a backend); returns the copy open.

    The target's manifest says it is an unfinished copy of ``origin`` (default: the source's
    manifest's model) until the last point is written and flushed, so a copy killed part-way is
    refused by :meth:`Index.open` rather than opened as a smaller index; copying again into such a
    target finishes it (points are written by id, so nothing doubles). ``settings``
    (:class:`~m3search.index.backends.remote.CollectionSettings`) lays out a new collection on a
    server."""
    marked = replace(source.manifest, extra={**source.manifest.extra, "copying_from": origin or "another index"})
    backend, resumed = _copy_target(target, marked, wait=wait, settings=settings)
    copy = Index(backend, marked)
    try:
        offset = None
        with progress_bar(source.count(), "copy", "doc", show_progress) as progress:
            while True:
                points, offset = source.backend.scroll(offset, PAGE)
                backend.upsert([_as_written(p) for p in points])
                progress.update(len(points))
                if offset is None or not points:
                    break
        backend.flush()
        backend.replace_manifest(source.manifest)  # published last: the copy is whole
    except BaseException:
        if resumed:
            copy.close()
        else:
            copy.drop()
        raise
    return Index(backend, source.manifest)


def _copy_target(target: str | Path | Backend, marked: Manifest, *, wait: float, settings: Any) -> tuple[Backend, bool]:
    """The backend a copy writes to, and whether it resumes an unfinished copy of the same index."""
    backend = backend_for(target, wait=wait, create_dir=True, settings=settings)
    try:
        if backend.exists():
            existing = backend.load_manifest()
            if existing.unfinished_copy is None or replace(existing, extra={}) != replace(marked, extra={}):
                raise ConfigurationError(f"an index already exists at {target}; open it, or choose another place")
            backend.check_schema(existing)
            return backend, True
        backend.create(marked)
        return backend, False
    except BaseException:
        if backend is not target:
            backend.close()
        raise


def _as_written(point: StoredPoint) -> PointData:
    """A stored point as the engines take it: dense and multi-vectors as float32 arrays."""
    vectors = {name: value if name == "sparse" else np.asarray(value, np.float32) for name, value in point.vectors.items()}
    return PointData(str(uuid.UUID(str(point.pid))), vectors, point.payload)  # the canonical spelling every engine takes
