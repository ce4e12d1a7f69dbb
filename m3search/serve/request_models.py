"""Request bodies of the HTTP API (pydantic): unknown fields are refused, sizes are bounded.

The responses are in :mod:`.response_models`.

>>> EncodeRequest(texts=["Mount Everest"]).parts
['dense']
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

InputType = Literal["query", "document"]
Part = Literal["dense", "sparse", "colbert"]
#: Bounds no configuration needs to exceed; the configurable limits (settings.py) are tighter.
MAX_ITEMS = 100_000
MAX_WEIGHT = 1e6


class Strict(BaseModel):
    """A request body that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


class EmbeddingsRequest(Strict):
    """OpenAI's ``POST /v1/embeddings``; ``input_type`` is m3search's addition (default ``document``)."""

    input: str | list[str] | list[StrictInt] | list[list[StrictInt]] = Field(
        description="a text, texts, one text's token ids, or several texts' token ids (complete model input ids)")
    model: str | None = Field(default=None, description="accepted and ignored: the server has one model")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, description="not supported: refused with 400")
    user: str | None = None
    input_type: InputType = "document"


class EncodeRequest(Strict):
    """Any of the three outputs of the same texts, from one forward pass."""

    texts: list[str] = Field(max_length=MAX_ITEMS)
    parts: list[Part] = Field(default=["dense"], min_length=1, max_length=3)
    input_type: InputType = "document"
    sparse_tokens: bool = Field(default=False, description="add each sparse entry's decoded token")
    colbert_format: Literal["float", "base64"] = Field(
        default="float", description="base64: little-endian float16, row-major, with its shape")


class RerankRequest(Strict):
    """Cohere/Jina rerank, scored by the M3 hybrid score (the reference's ``compute_score``) or by
    the server's cross-encoder."""

    query: str
    documents: list[str] = Field(max_length=MAX_ITEMS)
    model: str | None = Field(default=None, description=(
        "'cross-encoder' or the cross-encoder's name (m3search serve --rerank MODEL): scored by it, relevance_score "
        "the sigmoid of its logit; anything else (or nothing): the M3 hybrid score"))
    top_n: int | None = Field(default=None, ge=1, le=MAX_ITEMS)
    top_k: int | None = Field(default=None, ge=1, le=MAX_ITEMS, description="alias of top_n")
    return_documents: bool = True
    weights: dict[Part, float] | None = Field(default=None, description=(
        "default: dense 1, sparse 0.3, colbert 1 (an encoder with long_strategy windows: dense 1, sparse 0, colbert 6)"))


class SearchRequest(Strict):
    """A query against the index: the mode (default: the index's), fusion weights, hits, filter, explanations."""

    query: str
    mode: Literal["dense", "sparse", "colbert", "dense+sparse", "all", "rrf"] | None = None
    k: int = Field(default=10, ge=1)
    weights: dict[Part, float] | None = None
    filter: dict[str, Any] | None = Field(default=None, description="the filter grammar of m3search.index.filters")
    explain: bool = False
    candidates: int = Field(default=100, ge=1, le=10_000)
    rerank_depth: int | None = Field(default=None, ge=1, le=1000, description=(
        "rescore the first N hits with the server's cross-encoder (m3search serve --rerank MODEL); k <= N"))


class DocumentIn(Strict):
    """One document to store: its id (replaced when it exists), text and JSON metadata."""

    id: str = Field(min_length=1, max_length=1000)
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsRequest(Strict):
    """Documents to add or replace (upsert by id)."""

    documents: list[DocumentIn] = Field(min_length=1, max_length=MAX_ITEMS)
