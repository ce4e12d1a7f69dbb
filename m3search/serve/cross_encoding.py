"""The server's cross-encoder (``m3search serve --rerank MODEL``): scoring pairs off the event
loop, one batch at a time, and which scorer a ``/v1/rerank`` request names."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..search.rerank_stage import check_depth, rerank_hits
from ..types import Hit

if TYPE_CHECKING:
    from ..protocols import RerankerLike

#: The ``model`` value that always means the server's cross-encoder.
CROSS_ENCODER = "cross-encoder"


class CrossEncoding:
    """A loaded cross-encoder behind a lock (the network runs one batch at a time, in a thread)."""

    def __init__(self, reranker: RerankerLike, name: str) -> None:
        #: ``name`` as responses show it (a local path shortened unless ``--debug``)
        self.reranker, self.name = reranker, name
        full = str(reranker.name).rstrip("/")
        self._names = {name, full, full.rsplit("/", 1)[-1], CROSS_ENCODER}
        self._lock = threading.Lock()

    def chosen_by(self, model: str | None) -> bool:
        """Whether a request's ``model`` names this cross-encoder: ``cross-encoder``, its name as
        given to ``--rerank`` or as shown, or the last part of that name."""
        return model is not None and model in self._names

    async def score(self, query: str, documents: Sequence[str]) -> np.ndarray:
        """The raw logit of every (query, document) pair, in input order."""
        def run() -> np.ndarray:
            with self._lock:
                return np.asarray(self.reranker.score([(query, d) for d in documents]), dtype=np.float32)

        return await asyncio.to_thread(run)

    async def rerank(self, query: str, hits: list[Hit], *, depth: int, k: int, mode: str) -> list[Hit]:
        """The rerank stage of ``/v1/search``: the first ``depth`` hits ordered by the cross-encoder."""
        check_depth(depth, k)

        def run() -> list[Hit]:
            with self._lock:
                return rerank_hits(self.reranker, [query], [hits], depth=depth, k=k, mode=mode)[0]

        return await asyncio.to_thread(run)
