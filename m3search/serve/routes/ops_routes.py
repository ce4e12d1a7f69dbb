"""``GET /health`` (liveness, open without the key), ``GET /info`` (model, parts, index, limits)
and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from ..error_handlers import documented_errors
from ..response_models import HealthResponse, IndexInfo, InfoResponse, Limits
from .dependencies import ServiceDep

router = APIRouter()
PROMETHEUS_TEXT = "text/plain; version=0.0.4"


@router.get("/health", summary="Liveness")
async def health() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get("/info", summary="Model, parts, index and limits", responses=documented_errors(401, 500))
async def info(service: ServiceDep) -> InfoResponse:
    encoder = service.encoder
    index_info = None
    if service.index is not None:
        index_info = IndexInfo(parts=list(service.index.parts), documents=await service.count(),
                               default_mode=service.searcher.mode if service.searcher else None)
    return InfoResponse(model=service.model_name, dim=encoder.dim, colbert_dim=encoder.identity.get("colbert_dim"),
                        parts=list(encoder.parts), max_length=encoder.max_length, index=index_info,
                        reranker=service.cross.name if service.cross is not None else None,
                        limits=Limits(**service.settings.public()))


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse,
            responses={200: {"description": "the Prometheus text exposition format 0.0.4"}, **documented_errors(401, 500, json_ref=True)})
async def prometheus(service: ServiceDep) -> Response:
    return Response(service.metrics.text(), media_type=PROMETHEUS_TEXT)
