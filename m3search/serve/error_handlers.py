"""Every error as JSON in OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``),
never a stack trace: the handlers :func:`install_error_handlers` puts on an app, and the error
responses the routes document (:func:`documented_errors`).

>>> documented_errors(404, 422)[404]["description"]
'not found: no index, or no such document'
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .batcher import QueueFullError
from .response_models import ErrorResponse
from .service import ApiError
from .settings import redact_paths

log = logging.getLogger(__name__)
INTERNAL_ERROR = "internal error (logged on the server)"

ERROR_DESCRIPTIONS = {
    400: "a bad value: the message names it",
    401: "missing or wrong API key",
    404: "not found: no index, or no such document",
    413: "over a limit: the message names it",
    422: "the body does not match the schema: the message names the field",
    429: "too many requests waiting for the encoder: retry after Retry-After seconds",
    500: "internal error (logged on the server)",
}


def documented_errors(*statuses: int, json_ref: bool = False) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of these error statuses, each with the error body's schema.

    ``json_ref``: name the schema as JSON content explicitly, for a route whose own responses are
    not JSON (the schema itself is registered by the routes that use the model)."""
    if json_ref:
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        return {status: {"description": ERROR_DESCRIPTIONS[status], "content": content} for status in statuses}
    return {status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]} for status in statuses}


def error_response(status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON response of an error."""
    body = ErrorResponse.of(status, message, kind, param).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    debug = request.app.state.service.settings.debug
    return error_response(exc.status, exc.message if debug else redact_paths(exc.message), exc.kind, exc.param)


async def _queue_full(request: Request, exc: Exception) -> JSONResponse:
    return error_response(429, str(exc), "rate_limit_error", headers={"Retry-After": "1"})


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else str(first.get("msg", "invalid request"))
    return error_response(422, message, param=where or None)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return error_response(exc.status_code, str(exc.detail), kind)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return error_response(500, INTERNAL_ERROR, "server_error")


def install_error_handlers(app: FastAPI) -> None:
    """Client errors (:class:`ApiError`, validation, HTTP) keep their status; anything else is a 500."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(QueueFullError, _queue_full)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
