"""Move an index between engines: the embedded shard and a Qdrant server, either way.

A copy is the same index elsewhere: the manifest (encoder identity, parts, storage), every
point id, every stored vector as stored (float16, float32 or uint8 codes), every payload
(document id, text, metadata). The target must not exist yet; a copy that fails part-way
removes what it created, so a target is either whole or absent.

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
from pathlib import Path
from typing import Any

import numpy as np

from ..progress import progress_bar
from .backends.engine import Backend, PointData, StoredPoint
from .facade import Index
from .lock import DEFAULT_WAIT
from .targets import create_at

#: Points per page read from the source and written to the target.
PAGE = 256


def copy_index(source: Index, target: str | Path | Backend, *, settings: Any = None, show_progress: bool | None = None,
               wait: float = DEFAULT_WAIT) -> Index:
    """Copy ``source`` to ``target`` (a directory, a Qdrant URL or a backend); returns the copy open.

    ``settings`` (:class:`~m3search.index.backends.remote.CollectionSettings`) lays out a new
    collection on a server."""
    backend = create_at(target, source.manifest, wait=wait, settings=settings)  # a copy goes to a new place
    copy = Index(backend, source.manifest)
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
    except BaseException:
        copy.drop()
        raise
    return copy


def _as_written(point: StoredPoint) -> PointData:
    """A stored point as the engines take it: dense and multi-vectors as float32 arrays."""
    vectors = {name: value if name == "sparse" else np.asarray(value, np.float32) for name, value in point.vectors.items()}
    return PointData(str(uuid.UUID(str(point.pid))), vectors, point.payload)  # the canonical spelling every engine takes
