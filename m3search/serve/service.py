"""What the endpoints do, without HTTP: limits, tokenising, batched encoding, search, rerank,
documents. The encoder runs on the batcher's thread; index calls run in worker threads under
one lock (the server is the index's single writer, see :mod:`m3search.index.lock`)."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import M3SearchError
from ..index import Document, Index, check_metadata
from ..io.text import clean_text
from ..scoring import colbert_scores, combine, default_weights, dense_scores, sparse_scores
from ..search import Searcher
from ..search.fusion import check_weights
from ..types import Embeddings, Hit
from .batcher import DynamicBatcher
from .cross_encoding import CrossEncoding
from .settings import ServeSettings, redact_paths
from .telemetry import Metrics

if TYPE_CHECKING:
    from ..protocols import EncoderLike, RerankerLike, Role


class ApiError(Exception):
    """An error the client caused (or may retry): its HTTP status, a message and OpenAI's ``type``."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


class Service:
    """The encoder (behind a :class:`DynamicBatcher`), the index (optional) and the limits."""

    def __init__(self, encoder: EncoderLike, index: Index | None, settings: ServeSettings, metrics: Metrics,
                 reranker: RerankerLike | None = None) -> None:
        self.encoder = encoder
        self.index = index
        self.settings = settings
        #: the cross-encoder of ``/v1/rerank`` (``model``) and of ``/v1/search``'s ``rerank_depth``
        self.cross = CrossEncoding(reranker, self._public(reranker.name)) if reranker is not None else None
        self.metrics = metrics
        self.batcher = DynamicBatcher(encoder, max_queue=settings.max_queue, wait_ms=settings.batch_wait_ms,
                                      max_batch_tokens=settings.max_batch_tokens, observe=metrics.observe)
        self.searcher = Searcher(encoder, index) if index is not None else None
        self.index_lock = threading.Lock()
        #: the fusion weights of ``/v1/rerank``'s hybrid score when a request gives none
        self.rerank_weights = default_weights(encoder.identity)

    @property
    def model_name(self) -> str:
        """The model's name; a local directory is named by its last part unless ``debug``."""
        return self._public(str(self.encoder.identity["name"]))

    def _public(self, name: str) -> str:
        return name if self.settings.debug else redact_paths(name)

    def need_cross_encoder(self, param: str) -> CrossEncoding:
        if self.cross is None:
            raise ApiError(400, "this server has no cross-encoder: start it with --rerank MODEL", param=param)
        return self.cross

    def close(self) -> None:
        self.batcher.close()
        if self.index is not None:
            self.index.close()

    # ------------------------------------------------------------------ encoding
    def check_texts(self, texts: Sequence[str], what: str = "texts") -> None:
        limit = self.settings
        if not texts:
            raise ApiError(400, f"no {what} given", param=what)
        if len(texts) > limit.max_texts:
            raise ApiError(413, f"{len(texts)} {what} in one request; the limit is max_texts={limit.max_texts}", param=what)
        for i, text in enumerate(texts):
            if len(text) > limit.max_chars:
                raise ApiError(413, f"{what}[{i}] has {len(text)} characters; the limit is max_chars={limit.max_chars}",
                               param=what)
            if not text.strip():
                raise ApiError(400, f"{what}[{i}] is empty", param=what)

    async def plan(self, texts: Sequence[str], role: Role,
                   what: str = "texts") -> tuple[list[list[int]], Callable[[Embeddings], Embeddings]]:
        """The sequences to encode (several per long text with ``long_strategy="windows"``) and
        how to merge their embeddings back into one per text."""
        self.check_texts(texts, what)
        try:
            ids, finish = await asyncio.to_thread(self.encoder.plan, list(texts), role=role)
        except M3SearchError as exc:
            raise ApiError(400, str(exc), param=what) from exc
        self._check_tokens(ids)
        return ids, finish

    def check_token_ids(self, ids: list[list[int]]) -> list[list[int]]:
        """Token-id input (OpenAI's arrays): complete model input ids, each in the vocabulary."""
        if not ids:
            raise ApiError(400, "no input given", param="input")
        if len(ids) > self.settings.max_texts:
            raise ApiError(413, f"{len(ids)} inputs in one request; the limit is max_texts={self.settings.max_texts}",
                           param="input")
        vocab = int(self.encoder.identity.get("vocab_size") or 0)
        for i, row in enumerate(ids):
            if not row:
                raise ApiError(400, f"input[{i}] is an empty token list", param="input")
            if len(row) > self.encoder.max_length:
                raise ApiError(413, f"input[{i}] has {len(row)} tokens; the model takes {self.encoder.max_length}",
                               param="input")
            bad = [t for t in row if t < 0 or (vocab and t >= vocab)]
            if bad:
                raise ApiError(400, f"input[{i}] holds token id {bad[0]}, outside the vocabulary [0, {vocab})", param="input")
            first, last = self._bounds
            if len(row) < 2 or row[0] != first or row[-1] != last:
                raise ApiError(400, f"input[{i}] is not a complete model input: it must start with token {first} and "
                                    f"end with token {last}, as the model's tokenizer writes them (a client counting "
                                    "tokens with another tokenizer sends another vocabulary's ids: LangChain's "
                                    "OpenAIEmbeddings needs check_embedding_ctx_length=False)", param="input")
        self._check_tokens(ids)
        return ids

    @functools.cached_property
    def _bounds(self) -> tuple[int, int]:
        """The first and last token id of every sequence the model's tokenizer writes."""
        row = self.encoder.tokenize(["a"])[0]
        return int(row[0]), int(row[-1])

    def _check_tokens(self, ids: list[list[int]]) -> None:
        total = sum(len(t) for t in ids)
        if total > self.settings.max_tokens:
            raise ApiError(413, f"the request has {total} tokens; the limit is max_tokens={self.settings.max_tokens}")

    async def encode_ids(self, ids: list[list[int]], parts: Sequence[str]) -> Embeddings:
        missing = [p for p in parts if p not in self.encoder.parts]
        if missing:
            raise ApiError(400, f"model {self.model_name!r} has no {missing} output; it gives {list(self.encoder.parts)}",
                           param="parts")
        try:
            return await self.batcher.submit(ids, parts)
        except M3SearchError as exc:
            raise ApiError(400, str(exc)) from exc

    async def encode(self, texts: Sequence[str], role: Role, parts: Sequence[str], what: str = "texts") -> tuple[Embeddings, int]:
        ids, finish = await self.plan(texts, role, what)
        return finish(await self.encode_ids(ids, parts)), sum(len(t) for t in ids)

    # ------------------------------------------------------------------ rerank
    async def rerank(self, query: str, documents: list[str], weights: dict[str, float] | None) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
        """The hybrid score of each document for the query, the per-mode scores, and the tokens used."""
        parts = tuple(self.encoder.parts)
        chosen = _weights(weights, parts, self.rerank_weights)
        (q, q_tokens), (d, d_tokens) = await asyncio.gather(
            self.encode([query], "query", parts, "query"), self.encode(documents, "document", parts, "documents"))
        scores: dict[str, np.ndarray] = {}
        if q.dense is not None and d.dense is not None:
            scores["dense"] = dense_scores(q.dense, d.dense)[0]
        if q.sparse is not None and d.sparse is not None:
            scores["sparse"] = sparse_scores(q.sparse, d.sparse)[0]
        if q.colbert is not None and d.colbert is not None:
            scores["colbert"] = colbert_scores(q.colbert, d.colbert)[0]
        return combine(scores, chosen), scores, q_tokens + d_tokens

    # ------------------------------------------------------------------ search and documents
    def _need_index(self) -> tuple[Index, Searcher]:
        if self.index is None or self.searcher is None:
            raise ApiError(404, "this server has no index: start it with --index DIR", kind="not_found_error")
        return self.index, self.searcher

    async def search(self, query: str, *, mode: str | None, k: int, weights: dict[str, float] | None,
                     filter: dict[str, Any] | None, explain: bool, candidates: int,
                     rerank_depth: int | None = None) -> tuple[str, list[Hit]]:
        if k > self.settings.max_k:
            raise ApiError(413, f"k={k} is more than max_k={self.settings.max_k}", param="k")
        index, searcher = self._need_index()
        cross = self.need_cross_encoder("rerank_depth") if rerank_depth is not None else None
        if rerank_depth is not None and k > rerank_depth:
            raise ApiError(400, f"k ({k}) exceeds rerank_depth ({rerank_depth})", param="k")
        try:
            run = Searcher(self.encoder, index, mode=mode or searcher.mode, candidates=candidates,
                           weights=_weights(weights, ("dense", "sparse", "colbert"), searcher.weights)
                           if weights else None)
            parts = run.query_parts(explain=explain)
        except M3SearchError as exc:
            raise ApiError(400, str(exc)) from exc
        embeddings, _ = await self.encode([query], "query", parts, "query")

        first = max(k, rerank_depth or 0)

        def find() -> list[Hit]:
            with self.index_lock:
                return run.search_embeddings(embeddings, first, filter=filter, explain_texts=[query] if explain else None)[0]

        try:
            hits = await asyncio.to_thread(find)
            if cross is not None and rerank_depth is not None:
                hits = await cross.rerank(query, hits, depth=rerank_depth, k=k, mode=run.mode)
            return run.mode, hits
        except M3SearchError as exc:
            raise ApiError(400, str(exc)) from exc

    async def add_documents(self, ids: list[str], texts: list[str], metadata: list[dict[str, Any]]) -> int:
        index, _ = self._need_index()
        if len(set(ids)) != len(ids):
            raise ApiError(400, "a document id appears twice in one request", param="documents")
        try:
            for doc_id, meta in zip(ids, metadata):
                check_metadata(doc_id, meta)
        except M3SearchError as exc:
            raise ApiError(400, str(exc), param="documents") from exc
        texts = [clean_text(t) for t in texts]
        embeddings, _ = await self.encode(texts, "document", index.parts, "documents")

        def write() -> int:
            with self.index_lock:
                index.add(ids, embeddings, texts=texts, metadata=metadata, show_progress=False)
                return index.count()

        try:
            return await asyncio.to_thread(write)
        except M3SearchError as exc:
            raise ApiError(400, str(exc), param="documents") from exc

    async def get_document(self, doc_id: str) -> Document:
        index, _ = self._need_index()

        def read() -> Document | None:
            with self.index_lock:
                return index.get([doc_id])[0]

        doc = await asyncio.to_thread(read)
        if doc is None:
            raise ApiError(404, f"no document {doc_id!r} in the index", kind="not_found_error")
        return doc

    async def delete_document(self, doc_id: str) -> None:
        index, _ = self._need_index()

        def remove() -> bool:
            with self.index_lock:
                if index.get([doc_id])[0] is None:
                    return False
                index.delete([doc_id])
                return True

        if not await asyncio.to_thread(remove):
            raise ApiError(404, f"no document {doc_id!r} in the index", kind="not_found_error")

    async def count(self) -> int | None:
        if self.index is None:
            return None
        index = self.index

        def count() -> int:
            with self.index_lock:
                return index.count()

        return await asyncio.to_thread(count)


def _weights(weights: dict[str, float] | None, parts: Sequence[str], defaults: Mapping[str, float]) -> dict[str, float]:
    """The fusion weights for ``parts``: ``defaults`` (the index's or the encoder's,
    :func:`~m3search.scoring.default_weights`), overridden by the request's."""
    chosen = {p: w for p, w in defaults.items() if p in parts}
    if weights:
        try:
            chosen.update(check_weights(weights))
        except M3SearchError as exc:
            raise ApiError(400, str(exc), param="weights") from exc
    chosen = {p: w for p, w in chosen.items() if p in parts}
    if not chosen or sum(chosen.values()) <= 0:
        raise ApiError(400, f"the weights of {list(parts)} sum to zero", param="weights")
    return chosen
