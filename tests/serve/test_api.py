"""The HTTP API in-process (FastAPI's TestClient) against the tiny M3 checkpoint: every endpoint
returns what the library computes, in the shape its clients expect; the official openai client
works against it."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from m3search.index import index_records
from m3search.io.jsonl import Record
from m3search.scoring import pair_scores
from m3search.search import Searcher
from m3search.serve import ServeSettings, create_app

DOCS = [
    Record("everest", "Der Mount Everest ist 8848 Meter hoch.", {"lang": "de"}),
    Record("canberra", "Canberra is the capital of Australia.", {"lang": "en"}),
    Record("zhu", "珠穆朗玛峰是世界最高峰。", {"lang": "zh"}),
    Record("nile", "Le Nil est le plus long fleuve d'Afrique.", {"lang": "fr"}),
]


@pytest.fixture
def client(tiny_m3, tmp_path):
    index = index_records(tiny_m3, DOCS, tmp_path / "idx", show_progress=False)
    with TestClient(create_app(tiny_m3, index, ServeSettings())) as client:
        yield client


def test_embeddings_accept_a_string_texts_and_token_ids_and_equal_the_library(client, tiny_m3):
    texts = ["How high is Everest?", "Hauptstadt Australiens"]
    expected = tiny_m3.encode(texts).dense
    one = client.post("/v1/embeddings", json={"input": texts[0]}).json()
    assert one["object"] == "list" and one["data"][0]["object"] == "embedding" and one["data"][0]["index"] == 0
    np.testing.assert_allclose(one["data"][0]["embedding"], expected[0], atol=1e-6)
    ids = tiny_m3.tokenize(texts)
    assert one["usage"] == {"prompt_tokens": len(ids[0]), "total_tokens": len(ids[0])}
    many = client.post("/v1/embeddings", json={"input": texts, "model": "anything"}).json()
    np.testing.assert_allclose([d["embedding"] for d in many["data"]], expected, atol=1e-6)
    by_ids = client.post("/v1/embeddings", json={"input": ids}).json()
    np.testing.assert_allclose([d["embedding"] for d in by_ids["data"]], expected, atol=1e-6)
    single_ids = client.post("/v1/embeddings", json={"input": ids[1]}).json()
    np.testing.assert_allclose(single_ids["data"][0]["embedding"], expected[1], atol=1e-6)
    b64 = client.post("/v1/embeddings", json={"input": texts, "encoding_format": "base64"}).json()
    decoded = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in b64["data"]]
    np.testing.assert_allclose(decoded, expected, atol=1e-6)
    query = client.post("/v1/embeddings", json={"input": texts[0], "input_type": "query"}).json()
    np.testing.assert_allclose(query["data"][0]["embedding"], tiny_m3.encode(texts[:1], role="query").dense[0], atol=1e-6)


def test_embeddings_errors_have_openais_shape(client):
    response = client.post("/v1/embeddings", json={"input": "x", "dimensions": 8})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "dimensions" and "not supported" in error["message"] and error["type"] == "invalid_request_error"
    response = client.post("/v1/embeddings", json={"input": [[1, 2, 10**9]]})
    assert response.status_code == 400 and "token id 1000000000" in response.json()["error"]["message"]
    response = client.post("/v1/embeddings", json={"input": ""})
    assert response.status_code == 400 and "input[0] is empty" in response.json()["error"]["message"]
    response = client.post("/v1/embeddings", json={"input": "x", "temperature": 1})
    assert response.status_code == 422 and "temperature" in response.json()["error"]["message"]


def test_the_official_openai_client_works(client, tiny_m3):
    openai = pytest.importorskip("openai")
    api = openai.OpenAI(api_key="unused", base_url=f"{client.base_url}/v1", http_client=client)
    response = api.embeddings.create(model="m3", input=["Wie hoch ist der Everest?", "Canberra"])  # base64 by default
    expected = tiny_m3.encode(["Wie hoch ist der Everest?", "Canberra"]).dense
    np.testing.assert_allclose([d.embedding for d in response.data], expected, atol=1e-6)
    assert response.usage.total_tokens == sum(len(t) for t in tiny_m3.tokenize(["Wie hoch ist der Everest?", "Canberra"]))
    with pytest.raises(openai.BadRequestError, match="dimensions is not supported"):
        api.embeddings.create(model="m3", input="x", dimensions=8)


def test_encode_returns_all_three_outputs_equal_to_the_library(client, tiny_m3):
    texts = ["Mount Everest", "珠穆朗玛峰"]
    expected = tiny_m3.encode(texts, parts="all")
    body = client.post("/v1/encode", json={"texts": texts, "parts": ["dense", "sparse", "colbert"],
                                           "sparse_tokens": True}).json()
    for i, row in enumerate(body["data"]):
        np.testing.assert_allclose(row["dense"], expected.dense[i], atol=1e-6)
        assert {e["index"]: e["value"] for e in row["sparse"]} == pytest.approx(expected.sparse[i].to_dict(), abs=1e-6)
        assert all(e["token"] == tiny_m3.decode_token(e["index"]) for e in row["sparse"])
        np.testing.assert_allclose(row["colbert"], expected.colbert[i], atol=1e-6)
    half = client.post("/v1/encode", json={"texts": texts, "parts": ["colbert"], "colbert_format": "base64"}).json()
    for i, row in enumerate(half["data"]):
        packed = row["colbert"]
        rows = np.frombuffer(base64.b64decode(packed["base64"]), dtype="<f2").reshape(packed["shape"])
        assert packed["dtype"] == "float16" and "dense" not in row
        np.testing.assert_allclose(rows, expected.colbert[i], atol=2e-3)


def test_rerank_is_the_reference_hybrid_score_in_cohere_shape(client, tiny_m3):
    docs = [d.text for d in DOCS]
    body = client.post("/v1/rerank", json={"query": "How high is Everest?", "documents": docs}).json()
    q = tiny_m3.encode(["How high is Everest?"] * len(docs), role="query", parts="all")
    expected = pair_scores(q, tiny_m3.encode(docs, parts="all"))["colbert+sparse+dense"]
    assert [r["index"] for r in body["results"]] == sorted(range(len(docs)), key=lambda i: -expected[i])
    for r in body["results"]:
        assert r["relevance_score"] == pytest.approx(float(expected[r["index"]]), abs=1e-5)
        assert r["document"] == {"text": docs[r["index"]]} and set(r["scores"]) == {"dense", "sparse", "colbert"}
    top = client.post("/v1/rerank", json={"query": "Everest", "documents": docs, "top_k": 2,
                                          "return_documents": False}).json()["results"]
    assert len(top) == 2 and "document" not in top[0]
    dense_only = client.post("/v1/rerank", json={"query": "Everest", "documents": docs, "top_n": 1,
                                                 "weights": {"dense": 1, "sparse": 0, "colbert": 0}}).json()
    assert dense_only["results"][0]["relevance_score"] == pytest.approx(dense_only["results"][0]["scores"]["dense"], abs=1e-6)


def test_search_equals_the_searcher_with_filters_and_explanations(client, tiny_m3, tmp_path):
    body = client.post("/v1/search", json={"query": "Everest Höhe", "k": 3, "explain": True}).json()
    assert body["mode"] == "all" and len(body["hits"]) == 3
    hit = body["hits"][0]
    assert set(hit["scores"]) == {"dense", "sparse", "colbert"} and hit["explanation"]["colbert"]
    assert hit["text"] and hit["metadata"]["lang"]
    index = client.app.state.service.index
    expected = Searcher(tiny_m3, index).search(["Everest Höhe"], k=3)[0]
    assert [h["id"] for h in body["hits"]] == [h.id for h in expected]
    assert [h["score"] for h in body["hits"]] == pytest.approx([h.score for h in expected], abs=1e-6)
    only = client.post("/v1/search", json={"query": "x", "mode": "dense", "filter": {"lang": ["de", "zh"]}}).json()
    assert {h["id"] for h in only["hits"]} == {"everest", "zhu"}
    bad = client.post("/v1/search", json={"query": "x", "filter": {"lang": None}})
    assert bad.status_code == 400 and "filter on 'lang'" in bad.json()["error"]["message"]


def test_documents_are_added_read_and_deleted(client):
    response = client.post("/v1/documents", json={"documents": [
        {"id": "kili", "text": "\ufeffKilimanjaro is the highest mountain in Africa.", "metadata": {"lang": "en"}}]})
    assert response.json() == {"upserted": 1, "count": 5}
    stored = client.get("/v1/documents/kili").json()
    assert stored == {"id": "kili", "text": "Kilimanjaro is the highest mountain in Africa.", "metadata": {"lang": "en"}}
    hits = client.post("/v1/search", json={"query": "Kilimanjaro Africa", "k": 1}).json()["hits"]
    assert hits[0]["id"] == "kili"
    assert client.delete("/v1/documents/kili").json() == {"deleted": "kili"}
    assert client.get("/v1/documents/kili").status_code == 404
    missing = client.delete("/v1/documents/kili")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    twice = client.post("/v1/documents", json={"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]})
    assert twice.status_code == 400 and "appears twice" in twice.json()["error"]["message"]
    assert client.get("/info").json()["index"]["documents"] == 4


def test_health_info_metrics_and_openapi(client):
    assert client.get("/health").json() == {"status": "ok"}
    info = client.get("/info").json()
    assert info["parts"] == ["dense", "sparse", "colbert"] and info["limits"]["max_texts"] == 256
    assert "api_key" not in info["limits"]
    client.post("/v1/embeddings", json={"input": "x"})
    client.post("/v1/embeddings", json={"input": "x", "dimensions": 3})
    text = client.get("/metrics").text
    assert 'm3search_requests_total{endpoint="/v1/embeddings",status="200"}' in text
    assert 'm3search_failures_total{endpoint="/v1/embeddings",kind="bad_request"} 1.0' in text
    assert "m3search_inference_seconds_count" in text and "m3search_batch_tokens_bucket" in text
    schema = client.get("/openapi.json").json()
    assert {"/v1/embeddings", "/v1/encode", "/v1/rerank", "/v1/search", "/v1/documents"} <= set(schema["paths"])


def test_a_server_without_an_index_says_so(tiny_m3):
    with TestClient(create_app(tiny_m3)) as client:
        response = client.post("/v1/search", json={"query": "x"})
        assert response.status_code == 404 and "no index" in response.json()["error"]["message"]
        assert client.post("/v1/embeddings", json={"input": "x"}).status_code == 200
        assert json.loads(client.get("/info").text)["index"] is None


def test_the_servers_default_weights_follow_the_encoders_long_strategy():
    from m3search.scoring import DEFAULT_WEIGHTS, WINDOWS_WEIGHTS, default_weights
    from m3search.serve.service import _weights

    parts = ("dense", "sparse", "colbert")
    assert _weights(None, parts, default_weights({"name": "m"})) == DEFAULT_WEIGHTS
    windowed = default_weights({"name": "m", "long": {"long_strategy": "windows"}})
    assert _weights(None, parts, windowed) == WINDOWS_WEIGHTS
    assert _weights({"sparse": 0.5}, parts, windowed) == {**WINDOWS_WEIGHTS, "sparse": 0.5}
