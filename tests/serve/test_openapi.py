"""The OpenAPI schema documents every response: each operation's 200 body is a model with
properties, each error is the one error shape, and real responses (success and error) match
their documented schema exactly, no undocumented key and no missing required one."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from m3search.index import index_records
from m3search.io.jsonl import Record
from m3search.serve import ServeSettings, create_app

DOCS = [
    Record("everest", "Der Mount Everest ist 8848 Meter hoch.", {"lang": "de"}),
    Record("canberra", "Canberra is the capital of Australia.", {"lang": "en"}),
]
ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture(scope="module")
def served(tiny_m3, tmp_path_factory):
    index = index_records(tiny_m3, DOCS, tmp_path_factory.mktemp("openapi") / "idx", show_progress=False)
    from m3search import CrossEncoder
    from tests.conftest import FIXTURES

    reranker = CrossEncoder.load(FIXTURES / "tiny-reranker", device="cpu")
    with TestClient(create_app(tiny_m3, index, ServeSettings(max_texts=4), reranker)) as client:
        yield client, client.get("/openapi.json").json()


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_operation_documents_its_200_body_and_its_errors(served):
    _, spec = served
    operations = [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]
    assert {(path, method) for path, method, _ in operations} == {
        ("/v1/embeddings", "post"), ("/v1/encode", "post"), ("/v1/rerank", "post"), ("/v1/search", "post"),
        ("/v1/documents", "post"), ("/v1/documents/{doc_id}", "get"), ("/v1/documents/{doc_id}", "delete"),
        ("/health", "get"), ("/info", "get"), ("/metrics", "get")}
    for path, method, op in operations:
        ok = op["responses"]["200"]["content"]
        if path == "/metrics":
            assert ok == {"text/plain": {"schema": {"type": "string"}}}
        else:
            body = _resolve(ok["application/json"]["schema"], spec)
            assert body["type"] == "object" and body["properties"], (method, path)
        errors = {code: r["content"] for code, r in op["responses"].items() if code != "200"}
        assert all(content == {"application/json": {"schema": ERROR}} for content in errors.values()), (method, path)
        assert path == "/health" or {"401", "500"} <= set(errors), (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # 422 has the error shape too


def _strict(spec: dict) -> dict:
    """The spec's components with every model closed to keys it does not document."""
    spec = copy.deepcopy(spec)
    for schema in spec["components"]["schemas"].values():
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
    return spec


CALLS = [
    ("post", "/v1/embeddings", {"input": ["Everest", "Canberra"]}, 200),
    ("post", "/v1/embeddings", {"input": "Everest", "encoding_format": "base64"}, 200),
    ("post", "/v1/embeddings", {"input": [[0, 5, 2]]}, 200),
    ("post", "/v1/embeddings", {"input": "x", "dimensions": 8}, 400),
    ("post", "/v1/embeddings", {"input": ["a"] * 5}, 413),
    ("post", "/v1/embeddings", {"input": "x", "temperature": 1}, 422),
    ("post", "/v1/encode", {"texts": ["Mount Everest"], "parts": ["dense", "sparse", "colbert"], "sparse_tokens": True}, 200),
    ("post", "/v1/encode", {"texts": ["Mount Everest"], "parts": ["sparse", "colbert"], "colbert_format": "base64"}, 200),
    ("post", "/v1/rerank", {"query": "Everest", "documents": [d.text for d in DOCS]}, 200),
    ("post", "/v1/rerank", {"query": "Everest", "documents": [d.text for d in DOCS], "return_documents": False}, 200),
    ("post", "/v1/rerank", {"query": "Everest", "documents": [d.text for d in DOCS], "model": "cross-encoder"}, 200),
    ("post", "/v1/search", {"query": "Everest", "k": 2, "explain": True}, 200),
    ("post", "/v1/search", {"query": "Everest", "k": 1, "rerank_depth": 2}, 200),
    ("post", "/v1/search", {"query": "Everest", "k": 3, "rerank_depth": 2}, 400),
    ("post", "/v1/search", {"query": "Everest", "mode": "dense"}, 200),
    ("post", "/v1/documents", {"documents": [{"id": "kili", "text": "Kilimanjaro", "metadata": {"n": 1}}]}, 200),
    ("get", "/v1/documents/kili", None, 200),
    ("delete", "/v1/documents/kili", None, 200),
    ("get", "/v1/documents/kili", None, 404),
    ("get", "/health", None, 200),
    ("get", "/info", None, 200),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), CALLS, ids=[f"{m} {p} {s}" for m, p, _, s in CALLS])
def test_responses_match_their_documented_schema_exactly(served, method, path, body, status):
    jsonschema = pytest.importorskip("jsonschema")
    client, spec = served
    response = client.request(method.upper(), path, json=body)
    assert response.status_code == status, response.text
    template = "/v1/documents/{doc_id}" if path.startswith("/v1/documents/") else path
    documented = spec["paths"][template][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**documented, "components": _strict(spec)["components"]}).validate(response.json())
