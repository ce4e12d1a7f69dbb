"""``POST /v1/search``: search the server's index (404 when it has none)."""

from __future__ import annotations

from fastapi import APIRouter

from ..error_handlers import documented_errors
from ..request_models import SearchRequest
from ..response_models import SearchResponse
from .dependencies import ServiceDep

router = APIRouter(responses=documented_errors(400, 401, 404, 413, 422, 429, 500))


@router.post("/v1/search", summary="Search the index")
async def search(body: SearchRequest, service: ServiceDep) -> SearchResponse:
    weights = {str(k): v for k, v in body.weights.items()} if body.weights else None
    mode, hits = await service.search(body.query, mode=body.mode, k=body.k, weights=weights, filter=body.filter,
                                      explain=body.explain, candidates=body.candidates, rerank_depth=body.rerank_depth)
    return SearchResponse.model_validate({"query": body.query, "mode": mode, "hits": [h.to_dict() for h in hits]})
