"""``POST /v1/rerank``: Cohere/Jina rerank, scored by the M3 hybrid score or, when ``model``
names it, by the server's cross-encoder."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter

from ..error_handlers import documented_errors
from ..request_models import RerankRequest
from ..response_models import RerankDocument, RerankResponse, RerankResult, TokenUsage
from .dependencies import ServiceDep

router = APIRouter(responses=documented_errors(400, 401, 413, 422, 429, 500))


@router.post("/v1/rerank", summary="Rerank documents by the M3 hybrid score or a cross-encoder (Cohere/Jina shape)",
             response_model_exclude_none=True)
async def rerank(body: RerankRequest, service: ServiceDep) -> RerankResponse:
    top = body.top_n or body.top_k or len(body.documents)
    if service.cross is not None and service.cross.chosen_by(body.model):
        service.check_texts(body.documents, "documents")
        logits = await service.cross.score(body.query, body.documents)
        relevance = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        order = sorted(range(len(logits)), key=lambda i: (-float(logits[i]), i))[:top]
        results = [RerankResult(index=i, relevance_score=float(relevance[i]), scores={"cross-encoder": float(logits[i])},
                                document=RerankDocument(text=body.documents[i]) if body.return_documents else None)
                   for i in order]
        return RerankResponse(model=service.cross.name, results=results, usage=TokenUsage(total_tokens=0))
    weights = {str(k): v for k, v in body.weights.items()} if body.weights else None
    final, per_mode, tokens = await service.rerank(body.query, body.documents, weights)
    order = sorted(range(len(final)), key=lambda i: (-float(final[i]), i))[:top]
    results = [RerankResult(index=i, relevance_score=float(final[i]),
                            scores={mode: float(v[i]) for mode, v in per_mode.items()},
                            document=RerankDocument(text=body.documents[i]) if body.return_documents else None)
               for i in order]
    return RerankResponse(model=service.model_name, results=results, usage=TokenUsage(total_tokens=tokens))
