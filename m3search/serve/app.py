"""The FastAPI app: ``create_app(encoder, index=...)`` builds it; importing this module loads nothing.

Endpoints (every error is ``{"error": {"message", "type", "param", "code"}}``, OpenAI's shape):

==========================  ====================================================================
``POST /v1/embeddings``     OpenAI-compatible dense embeddings (float or base64 float32)
``POST /v1/encode``         dense, sparse (TEI's ``[{"index", "value"}]``) and multi-vector outputs
``POST /v1/rerank``         Cohere/Jina rerank scored by the M3 hybrid score
``POST /v1/search``         search the index: mode, weights, k, filter, explanations
``POST /v1/documents``      add or replace documents; ``GET``/``DELETE /v1/documents/{id}``
``GET /health``, ``/info``  liveness; model, parts, index and limits
``GET /metrics``            Prometheus text
``GET /``                   the search page
==========================  ====================================================================
"""

from __future__ import annotations

import base64
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..index import Index
from .batcher import QueueFullError
from .metrics import Metrics
from .schemas import DocumentsRequest, EmbeddingsRequest, EncodeRequest, RerankRequest, SearchRequest
from .service import ApiError, Service
from .settings import ServeSettings

log = logging.getLogger(__name__)
OPEN_PATHS = ("/", "/health", "/page.js", "/page.css", "/favicon.ico")


def error_body(status: int, message: str, kind: str = "invalid_request_error", param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def _error(status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, kind, param), status_code=status, headers=headers)


class BodyLimit:
    """413 for a body over ``limit`` bytes, declared (Content-Length) or streamed (chunked).

    The body is read here first (it is bounded by the limit), so that the app never sees part
    of a request that is refused."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = _error(413, f"the request body is larger than max_body_bytes={self.limit}", param="body")
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await too_big(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


def create_app(
    encoder: Any,
    index: Index | None = None,
    settings: ServeSettings | None = None,
) -> FastAPI:
    """The app serving ``encoder`` (an :class:`~m3search.encode.Encoder`, already loaded) and,
    optionally, ``index`` (an open :class:`~m3search.index.Index`, which the app holds and closes).

    >>> from tests.fakes import FakeEncoder
    >>> app = create_app(FakeEncoder())
    >>> sorted({r.path for r in app.routes if r.path.startswith("/v1/")})
    ['/v1/documents', '/v1/documents/{doc_id}', '/v1/embeddings', '/v1/encode', '/v1/rerank', '/v1/search']
    >>> app.state.service.close()
    """
    settings = settings or ServeSettings()
    metrics = Metrics()
    service = Service(encoder, index, settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        service.close()

    app = FastAPI(title="m3search", version="0.1.0", lifespan=lifespan,
                  description="Dense, sparse and multi-vector embeddings, rerank and search with one M3 encoder.")
    app.state.service = service

    # ------------------------------------------------------------------ errors
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.kind, exc.param)

    @app.exception_handler(QueueFullError)
    async def queue_full(request: Request, exc: QueueFullError) -> JSONResponse:
        return _error(429, str(exc), "rate_limit_error", headers={"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else str(first.get("msg", "invalid request"))
        return _error(422, message, param=where or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return _error(exc.status_code, str(exc.detail), kind)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal error (logged on the server)", "server_error")

    # ------------------------------------------------------------------ auth, metrics
    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        route = _route(app, request.scope)
        started = time.perf_counter()
        if settings.api_key and path not in OPEN_PATHS:
            given = request.headers.get("authorization", "")
            expected = f"Bearer {settings.api_key}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                response: Response = _error(401, "missing or wrong API key: send 'Authorization: Bearer KEY'",
                                            "authentication_error")
                _count(metrics, route, response.status_code, "auth")
                return response
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unexpected error on %s", path)
            response = _error(500, "internal error (logged on the server)", "server_error")
        metrics.queue_depth.set(service.batcher.depth)
        metrics.latency.labels(route).observe(time.perf_counter() - started)
        _count(metrics, route, response.status_code, _kind(response.status_code))
        return response

    # ------------------------------------------------------------------ endpoints
    @app.post("/v1/embeddings", summary="OpenAI-compatible dense embeddings")
    async def embeddings(body: EmbeddingsRequest) -> dict[str, Any]:
        if body.dimensions is not None:
            raise ApiError(400, "dimensions is not supported: the model's vectors have "
                           f"{service.encoder.dim} dimensions and are not truncatable", param="dimensions")
        if "dense" not in service.encoder.parts:
            raise ApiError(400, f"model {service.model_name!r} has no dense output")
        items: Any = body.input
        if isinstance(items, str) or (items and all(isinstance(x, str) for x in items)):
            texts = [items] if isinstance(items, str) else [str(x) for x in items]
            result, tokens = await service.encode(texts, body.input_type, ["dense"], "input")
        else:
            rows = [items] if items and isinstance(items[0], int) else items
            ids = service.check_token_ids([[int(t) for t in r] for r in rows])
            result, tokens = await service.encode_ids(ids, ["dense"]), sum(len(t) for t in ids)
        dense = result.need_dense()
        data = [{"object": "embedding", "index": i, "embedding": _float_vector(dense[i], body.encoding_format)}
                for i in range(len(dense))]
        return {"object": "list", "data": data, "model": service.model_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    @app.post("/v1/encode", summary="Dense, sparse and multi-vector outputs from one forward pass")
    async def encode(body: EncodeRequest) -> dict[str, Any]:
        parts = [p for p in ("dense", "sparse", "colbert") if p in body.parts]
        result, tokens = await service.encode(body.texts, body.input_type, parts)
        data = []
        for i in range(len(result)):
            row: dict[str, Any] = {"index": i}
            if result.dense is not None:
                row["dense"] = result.dense[i].tolist()
            if result.sparse is not None:
                vector = result.sparse[i]
                entries = [{"index": int(t), "value": float(w)} for t, w in zip(vector.ids, vector.weights)]
                if body.sparse_tokens:
                    for entry in entries:
                        entry["token"] = service.encoder.decode_token(entry["index"])
                row["sparse"] = entries
            if result.colbert is not None:
                rows = result.colbert[i]
                row["colbert"] = rows.tolist() if body.colbert_format == "float" else {
                    "base64": base64.b64encode(rows.astype("<f2").tobytes()).decode(), "shape": list(rows.shape),
                    "dtype": "float16"}
            data.append(row)
        return {"object": "list", "data": data, "model": service.model_name, "usage": {"total_tokens": tokens}}

    @app.post("/v1/rerank", summary="Rerank documents by the M3 hybrid score (Cohere/Jina shape)")
    async def rerank(body: RerankRequest) -> dict[str, Any]:
        weights = {str(k): v for k, v in body.weights.items()} if body.weights else None
        final, per_mode, tokens = await service.rerank(body.query, body.documents, weights)
        top = body.top_n or body.top_k or len(body.documents)
        order = sorted(range(len(final)), key=lambda i: (-float(final[i]), i))[:top]
        results = []
        for i in order:
            item: dict[str, Any] = {"index": i, "relevance_score": float(final[i]),
                                    "scores": {mode: float(v[i]) for mode, v in per_mode.items()}}
            if body.return_documents:
                item["document"] = {"text": body.documents[i]}
            results.append(item)
        return {"model": service.model_name, "results": results, "usage": {"total_tokens": tokens}}

    @app.post("/v1/search", summary="Search the index")
    async def search(body: SearchRequest) -> dict[str, Any]:
        mode, hits = await service.search(body.query, mode=body.mode, k=body.k,
                                          weights={str(k): v for k, v in body.weights.items()} if body.weights else None,
                                          filter=body.filter, explain=body.explain, candidates=body.candidates)
        return {"query": body.query, "mode": mode, "hits": [h.to_dict() for h in hits]}

    @app.post("/v1/documents", summary="Add or replace documents (upsert by id)")
    async def add_documents(body: DocumentsRequest) -> dict[str, Any]:
        docs = body.documents
        total = await service.add_documents([d.id for d in docs], [d.text for d in docs], [d.metadata for d in docs])
        return {"upserted": len(docs), "count": total}

    @app.get("/v1/documents/{doc_id}", summary="One stored document")
    async def get_document(doc_id: str) -> dict[str, Any]:
        return await service.get_document(doc_id)

    @app.delete("/v1/documents/{doc_id}", summary="Delete a document")
    async def delete_document(doc_id: str) -> dict[str, Any]:
        await service.delete_document(doc_id)
        return {"deleted": doc_id}

    @app.get("/health", summary="Liveness")
    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/info", summary="Model, parts, index and limits")
    async def info() -> dict[str, Any]:
        enc = service.encoder
        index_info = None
        if service.index is not None:
            index_info = {"parts": list(service.index.parts), "documents": await service.count(),
                          "default_mode": service.searcher.mode if service.searcher else None}
        return {"model": service.model_name, "dim": enc.dim, "colbert_dim": enc.colbert_dim, "parts": list(enc.parts),
                "max_length": enc.max_length, "index": index_info, "limits": settings.public()}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.text(), media_type="text/plain; version=0.0.4")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_asset("index.html"))

    @app.get("/page.js", include_in_schema=False)
    async def page_js() -> Response:
        return Response(_asset("page.js"), media_type="text/javascript")

    @app.get("/page.css", include_in_schema=False)
    async def page_css() -> Response:
        return Response(_asset("page.css"), media_type="text/css")

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


def _asset(name: str) -> str:
    return (resources.files("m3search.serve") / "page" / name).read_text(encoding="utf-8")


def _route(app: FastAPI, scope: Scope) -> str:
    """The route template a request matches (metrics are labelled by template, not by raw path)."""
    for route in app.router.routes:
        if route.matches(scope)[0] == Match.FULL:
            return str(getattr(route, "path", "other"))
    return "other"


def _float_vector(vector: np.ndarray, encoding: str) -> Any:
    if encoding == "base64":
        return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode()
    return vector.tolist()


def _kind(status: int) -> str:
    if status < 400:
        return "none"
    return {401: "auth", 404: "not_found", 413: "too_large", 422: "validation", 429: "queue_full"}.get(
        status, "server" if status >= 500 else "bad_request")


def _count(metrics: Metrics, route: str, status: int, kind: str) -> None:
    metrics.requests.labels(route, str(status)).inc()
    if status >= 400:
        metrics.failures.labels(route, kind).inc()
