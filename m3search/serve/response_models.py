"""Response bodies of the HTTP API (pydantic), so that ``/openapi.json`` documents each one.

A field that defaults to ``None`` and is not in the response when the request did not ask for it
(``/v1/encode`` and ``/v1/rerank`` serialise with ``response_model_exclude_none``):

>>> SparseEntry(index=3, value=0.5).model_dump(exclude_none=True)
{'index': 3, 'value': 0.5}
>>> ErrorResponse.of(404, "no document 'x' in the index", "not_found_error").model_dump()["error"]["code"]
404
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


# ---------------------------------------------------------------------- encoding
class EmbeddingsUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class TokenUsage(BaseModel):
    total_tokens: int = Field(description="tokens of every text encoded for the request")


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int = Field(description="position of the input")
    embedding: list[float] | str = Field(description="floats, or base64 of little-endian float32 with encoding_format=base64")


class EmbeddingsResponse(BaseModel):
    """OpenAI's embeddings response."""

    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingsUsage


class SparseEntry(BaseModel):
    """One token's weight (TEI's shape); ``token`` with ``sparse_tokens=true``."""

    index: int = Field(description="token id")
    value: float
    token: str | None = Field(default=None, description="the decoded token (sparse_tokens=true)")


class PackedMatrix(BaseModel):
    """A multi-vector matrix as base64 of little-endian float16, row-major."""

    base64: str
    shape: list[int]
    dtype: Literal["float16"] = "float16"


class EncodedItem(BaseModel):
    """The requested outputs of one text; a part not requested is absent."""

    index: int
    dense: list[float] | None = None
    sparse: list[SparseEntry] | None = None
    colbert: list[list[float]] | PackedMatrix | None = Field(default=None, description="one row per token")


class EncodeResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EncodedItem]
    model: str
    usage: TokenUsage


# ---------------------------------------------------------------------- rerank and search
class RerankDocument(BaseModel):
    text: str


class RerankResult(BaseModel):
    """One document: its position in the request, the hybrid score and each mode's score."""

    index: int
    relevance_score: float
    scores: dict[str, float]
    document: RerankDocument | None = Field(default=None, description="with return_documents=true")


class RerankResponse(BaseModel):
    """Cohere/Jina's rerank response, best first."""

    model: str
    results: list[RerankResult]
    usage: TokenUsage


class ExplainedToken(BaseModel):
    query_token: str
    document_token: str
    score: float


class HitExplanation(BaseModel):
    """The sparse tokens that contributed most and the document token each query token matched best."""

    sparse: list[ExplainedToken]
    colbert: list[ExplainedToken]
    dense_window: int | None = Field(description="the window that gave the dense score (window indexes)")
    dense_windows: int | None = Field(description="how many windows the document has (window indexes)")


class SearchHit(BaseModel):
    id: str
    score: float
    scores: dict[str, float]
    text: str | None
    metadata: dict[str, Any]
    explanation: HitExplanation | None = Field(description="with explain=true")


class SearchResponse(BaseModel):
    query: str
    mode: str = Field(description="the mode the search ran in")
    hits: list[SearchHit]


# ---------------------------------------------------------------------- documents
class UpsertResponse(BaseModel):
    upserted: int = Field(description="documents written by the request")
    count: int = Field(description="documents in the index afterwards")


class StoredDocument(BaseModel):
    id: str
    text: str | None
    metadata: dict[str, Any]


class DeleteResponse(BaseModel):
    deleted: str


# ---------------------------------------------------------------------- operations
class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class IndexInfo(BaseModel):
    parts: list[str]
    documents: int | None
    default_mode: str | None


class Limits(BaseModel):
    """The server's limits and batching settings (:class:`~m3search.serve.ServeSettings` without the key)."""

    max_texts: int
    max_chars: int
    max_tokens: int
    max_body_bytes: int
    max_k: int
    max_queue: int
    batch_wait_ms: float
    max_batch_tokens: int


class InfoResponse(BaseModel):
    model: str
    dim: int
    colbert_dim: int | None
    parts: list[str]
    max_length: int
    index: IndexInfo | None = Field(description="null when the server has no index")
    reranker: str | None = Field(default=None, description="the cross-encoder (m3search serve --rerank), or null")
    limits: Limits


# ---------------------------------------------------------------------- errors
class ErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, "
                                  "rate_limit_error or server_error")
    param: str | None
    code: int = Field(description="the HTTP status")


class ErrorResponse(BaseModel):
    """Every error, in OpenAI's shape."""

    error: ErrorDetail

    @classmethod
    def of(cls, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None) -> ErrorResponse:
        return cls(error=ErrorDetail(message=message, type=kind, param=param, code=status))
