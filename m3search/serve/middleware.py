"""What every request passes through: the body-size limit (:class:`BodyLimit`), then the bearer
key and the request metrics (:class:`RequestGuard`); :func:`install_middleware` puts both on an app."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .error_handlers import INTERNAL_ERROR, error_response
from .service import Service

log = logging.getLogger(__name__)
#: Paths served without the API key: liveness and the search page (which asks for the key itself).
OPEN_PATHS = ("/", "/health", "/page.js", "/page.css", "/favicon.ico")


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
        too_big = error_response(413, f"the request body is larger than max_body_bytes={self.limit}", param="body")
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


class RequestGuard:
    """Refuses a request without the API key (401) and records every request's route, status,
    failure kind and latency, and the encoder's queue depth."""

    def __init__(self, routes: Sequence[BaseRoute], service: Service) -> None:
        self.routes, self.service = routes, service

    def allowed(self, request: Request) -> bool:
        """Whether the request may pass: no key is set, the path is open, or it sends the key (compared in constant time)."""
        key = self.service.settings.api_key
        if not key or request.url.path in OPEN_PATHS:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {key}".encode())

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        metrics = self.service.metrics
        response: Response
        route = route_template(self.routes, request.scope)
        started = time.perf_counter()
        if not self.service.settings.host_allowed(request.headers.get("host")):
            response = error_response(400, f"host {request.headers.get('host', '')!r} is not served here: a server bound "
                                      "to this machine answers to localhost names only (m3search serve "
                                      "--allowed-hosts NAME adds one)", param="host")
            metrics.count(route, response.status_code)
            return response
        if not self.allowed(request):
            response = error_response(401, "missing or wrong API key: send 'Authorization: Bearer KEY'",
                                                "authentication_error")
            metrics.count(route, response.status_code)
            return response
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unexpected error on %s", request.url.path)
            response = error_response(500, INTERNAL_ERROR, "server_error")
        metrics.queue_depth.set(self.service.batcher.depth)
        metrics.latency.labels(route).observe(time.perf_counter() - started)
        metrics.count(route, response.status_code)
        return response


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The template of the route a request matches (metrics are labelled by template, not by raw
    path), or ``other``; ``routes`` are the app's routes, those of included routers listed one by one."""
    for route in routes:
        path = getattr(route, "path", None)
        if path is not None and route.matches(scope)[0] == Match.FULL:
            return str(path)
    return "other"


def install_middleware(app: FastAPI, service: Service, routes: Sequence[BaseRoute]) -> None:
    """The guard inside the body limit: a body over the limit is refused before anything reads it.
    ``routes`` label the metrics (:func:`route_template`)."""
    app.add_middleware(BaseHTTPMiddleware, dispatch=RequestGuard(routes, service))
    app.add_middleware(BodyLimit, limit=service.settings.max_body_bytes)
