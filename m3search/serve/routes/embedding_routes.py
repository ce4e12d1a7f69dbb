"""``POST /v1/embeddings`` (OpenAI-compatible dense vectors) and ``POST /v1/encode`` (any of the
three outputs from one forward pass)."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter

from ...types import Embeddings
from ..error_handlers import documented_errors
from ..request_models import EmbeddingsRequest, EncodeRequest
from ..response_models import (
    EmbeddingItem,
    EmbeddingsResponse,
    EmbeddingsUsage,
    EncodedItem,
    EncodeResponse,
    PackedMatrix,
    SparseEntry,
    TokenUsage,
)
from ..service import ApiError, Service
from .dependencies import ServiceDep

router = APIRouter(responses=documented_errors(400, 401, 413, 422, 429, 500))


@router.post("/v1/embeddings", summary="OpenAI-compatible dense embeddings")
async def embeddings(body: EmbeddingsRequest, service: ServiceDep) -> EmbeddingsResponse:
    if body.dimensions is not None:
        raise ApiError(400, "dimensions is not supported: the model's vectors have "
                       f"{service.encoder.dim} dimensions and are not truncatable", param="dimensions")
    if "dense" not in service.encoder.parts:
        raise ApiError(400, f"model {service.model_name!r} has no dense output")
    result, tokens = await _encode_input(service, body)
    dense = result.need_dense()
    data = [EmbeddingItem(index=i, embedding=_float_vector(dense[i], body.encoding_format)) for i in range(len(dense))]
    return EmbeddingsResponse(data=data, model=service.model_name,
                              usage=EmbeddingsUsage(prompt_tokens=tokens, total_tokens=tokens))


async def _encode_input(service: Service, body: EmbeddingsRequest) -> tuple[Embeddings, int]:
    """The dense vectors of OpenAI's ``input``: a text, texts, one text's token ids or several's."""
    items: Any = body.input
    if isinstance(items, str) or (items and all(isinstance(x, str) for x in items)):
        texts = [items] if isinstance(items, str) else [str(x) for x in items]
        return await service.encode(texts, body.input_type, ["dense"], "input")
    rows = [items] if items and isinstance(items[0], int) else items
    ids = service.check_token_ids([[int(t) for t in r] for r in rows])
    return await service.encode_ids(ids, ["dense"]), sum(len(t) for t in ids)


def _float_vector(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode()
    floats: list[float] = vector.tolist()
    return floats


@router.post("/v1/encode", summary="Dense, sparse and multi-vector outputs from one forward pass",
             response_model_exclude_none=True)
async def encode(body: EncodeRequest, service: ServiceDep) -> EncodeResponse:
    parts = [p for p in ("dense", "sparse", "colbert") if p in body.parts]
    result, tokens = await service.encode(body.texts, body.input_type, parts)
    data = [_encoded_item(service, result, i, body) for i in range(len(result))]
    return EncodeResponse(data=data, model=service.model_name, usage=TokenUsage(total_tokens=tokens))


def _encoded_item(service: Service, result: Embeddings, i: int, body: EncodeRequest) -> EncodedItem:
    """Text ``i``'s outputs; a part not requested stays ``None`` (and so absent from the JSON)."""
    row = EncodedItem(index=i)
    if result.dense is not None:
        row.dense = result.dense[i].tolist()
    if result.sparse is not None:
        vector = result.sparse[i]
        entries = [SparseEntry(index=int(t), value=float(w)) for t, w in zip(vector.ids, vector.weights)]
        if body.sparse_tokens:
            for entry in entries:
                entry.token = service.encoder.decode_token(entry.index)
        row.sparse = entries
    if result.colbert is not None:
        rows = result.colbert[i]
        row.colbert = rows.tolist() if body.colbert_format == "float" else PackedMatrix(
            base64=base64.b64encode(rows.astype("<f2").tobytes()).decode(), shape=list(rows.shape))
    return row
