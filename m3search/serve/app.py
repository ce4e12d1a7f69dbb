"""The FastAPI app: ``create_app(encoder, index=...)`` builds it; importing this module loads no model.

Endpoints (every error is ``{"error": {"message", "type", "param", "code"}}``, OpenAI's shape;
each response has a model in :mod:`.response_models`, so ``/openapi.json`` documents it):

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

The routes are in :mod:`.routes` (one module per job), what they do without HTTP in
:mod:`.service`, the error handlers in :mod:`.error_handlers` and the key, metrics and body
limit in :mod:`.middleware`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from .error_handlers import install_error_handlers
from .middleware import install_middleware
from .routes import ROUTERS
from .service import Service
from .settings import ServeSettings
from .telemetry import Metrics

if TYPE_CHECKING:
    from ..index import Index
    from ..protocols import EncoderLike, RerankerLike

DESCRIPTION = "Dense, sparse and multi-vector embeddings, rerank and search with one M3 encoder."


def create_app(encoder: EncoderLike, index: Index | None = None, settings: ServeSettings | None = None,
               reranker: RerankerLike | None = None) -> FastAPI:
    """The app serving ``encoder`` (an :class:`~m3search.encode.Encoder`, already loaded) and,
    optionally, ``index`` (an open :class:`~m3search.index.Index`, which the app holds and closes)
    and ``reranker`` (a :class:`~m3search.rerank.CrossEncoder`).

    >>> from m3search.encode import Encoder
    >>> app = create_app(Encoder.load("tests/fixtures/tiny-m3", device="cpu"))
    >>> sorted(path for path in app.openapi()["paths"] if path.startswith("/v1/"))
    ['/v1/documents', '/v1/documents/{doc_id}', '/v1/embeddings', '/v1/encode', '/v1/rerank', '/v1/search']
    >>> app.state.service.close()
    """
    service = Service(encoder, index, settings or ServeSettings(), Metrics(), reranker)
    app = FastAPI(title="m3search", version="0.1.0", description=DESCRIPTION, lifespan=_close_on_shutdown)
    app.state.service = service
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    install_middleware(app, service, routes=[*app.routes, *(route for router in ROUTERS for route in router.routes)])
    return app


@asynccontextmanager
async def _close_on_shutdown(app: FastAPI) -> AsyncIterator[None]:
    """Stops the encoder thread and closes the index when the server stops."""
    yield
    app.state.service.close()
