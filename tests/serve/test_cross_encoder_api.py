"""The server with a cross-encoder (``m3search serve --rerank MODEL``): ``/v1/rerank`` scored by
it when ``model`` names it (the M3 hybrid otherwise), ``/v1/search`` with ``rerank_depth``, and
the 4xx answers."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from m3search import CrossEncoder
from m3search.index import index_records
from m3search.serve import ServeSettings, create_app

from .test_api import DOCS


@pytest.fixture(scope="module")
def reranker(fixtures_dir):
    return CrossEncoder.load(fixtures_dir / "tiny-reranker", device="cpu")


@pytest.fixture
def client(tiny_m3, reranker, tmp_path):
    index = index_records(tiny_m3, DOCS, tmp_path / "idx", show_progress=False)
    with TestClient(create_app(tiny_m3, index, ServeSettings(max_texts=8), reranker)) as client:
        yield client


def test_rerank_with_the_cross_encoder_keeps_cohere_shape(client, reranker):
    docs = [d.text for d in DOCS]
    body = client.post("/v1/rerank", json={"query": "How high is Everest?", "documents": docs,
                                           "model": "cross-encoder"}).json()
    logits = reranker.score([("How high is Everest?", d) for d in docs])
    assert body["model"] == "…/tiny-reranker"  # a local directory is not shown without --debug
    assert [r["index"] for r in body["results"]] == sorted(range(len(docs)), key=lambda i: -logits[i])
    for r in body["results"]:
        assert r["scores"] == {"cross-encoder": pytest.approx(float(logits[r["index"]]), abs=1e-5)}
        assert r["relevance_score"] == pytest.approx(1 / (1 + np.exp(-logits[r["index"]])), abs=1e-5)
    by_name = client.post("/v1/rerank", json={"query": "Everest", "documents": docs, "model": "tiny-reranker",
                                              "top_n": 1}).json()
    assert len(by_name["results"]) == 1 and set(by_name["results"][0]["scores"]) == {"cross-encoder"}
    hybrid = client.post("/v1/rerank", json={"query": "Everest", "documents": docs, "model": "m3"}).json()
    assert set(hybrid["results"][0]["scores"]) == {"dense", "sparse", "colbert"}
    assert client.get("/info").json()["reranker"] == "…/tiny-reranker"


def test_search_with_a_rerank_depth(client, reranker):
    plain = client.post("/v1/search", json={"query": "Everest", "k": 4}).json()["hits"]
    body = client.post("/v1/search", json={"query": "Everest", "k": 2, "rerank_depth": 4}).json()
    logits = reranker.score([("Everest", h["text"]) for h in plain])
    best = sorted(range(4), key=lambda i: -logits[i])[:2]
    assert [h["id"] for h in body["hits"]] == [plain[i]["id"] for i in best]
    assert all({"all", "rerank"} <= set(h["scores"]) for h in body["hits"])


def test_rerank_errors_are_4xx_with_a_message(client, tiny_m3, tmp_path):
    too_many = client.post("/v1/rerank", json={"query": "q", "documents": ["d"] * 9, "model": "cross-encoder"})
    assert too_many.status_code == 413 and "max_texts=8" in too_many.json()["error"]["message"]
    deep = client.post("/v1/search", json={"query": "Everest", "k": 5, "rerank_depth": 2})
    assert deep.status_code == 400 and "exceeds rerank_depth" in deep.json()["error"]["message"]
    index = index_records(tiny_m3, DOCS, tmp_path / "idx2", show_progress=False)
    with TestClient(create_app(tiny_m3, index, ServeSettings())) as bare:
        missing = bare.post("/v1/search", json={"query": "Everest", "rerank_depth": 10})
        assert missing.status_code == 400 and "no cross-encoder: start it with --rerank" in missing.json()["error"]["message"]
        assert bare.get("/info").json()["reranker"] is None
