"""Limits, auth, back-pressure and batching of the server, with the torch-free fake encoder:
413 naming the limit, 401 without the key, 429 beyond the queue, concurrent requests merged into
shared forward passes, a failing request isolated, and no stack trace ever."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from m3search.serve import ServeSettings, create_app
from tests.fakes import FakeEncoder


class SlowEncoder(FakeEncoder):
    """A fake encoder that takes ``delay`` seconds per call, records every call's size, and fails on "boom"."""

    def __init__(self, delay: float = 0.05) -> None:
        super().__init__()
        self.delay = delay
        self.calls: list[int] = []

    def encode_tokens(self, token_ids, **kwargs):
        time.sleep(self.delay)
        if any(BOOM in ids for ids in token_ids):
            raise RuntimeError("the model broke")
        self.calls.append(len(token_ids))
        return super().encode_tokens(token_ids, **kwargs)


BOOM = FakeEncoder().tokenize(["boom"])[0][1]


def _client(encoder=None, **limits) -> TestClient:
    return TestClient(create_app(encoder or SlowEncoder(0), settings=ServeSettings(**limits)))


@pytest.mark.parametrize(("limits", "body", "message"), [
    ({"max_texts": 2}, {"input": ["a", "b", "c"]}, "3 input in one request; the limit is max_texts=2"),
    ({"max_chars": 10}, {"input": ["short", "x" * 11]}, "input[1] has 11 characters; the limit is max_chars=10"),
    ({"max_tokens": 5}, {"input": "one two three four five six"}, "the limit is max_tokens=5"),
    ({"max_body_bytes": 100}, {"input": "x" * 200}, "larger than max_body_bytes=100"),
])
def test_each_limit_answers_413_naming_it(limits, body, message):
    with _client(**limits) as client:
        response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 413
    assert message in response.json()["error"]["message"]


def test_a_streamed_body_over_the_limit_is_413_too():
    def chunks():
        for _ in range(10):
            yield b'{"input": "' + b"x" * 50
        yield b'"}'

    with _client(max_body_bytes=200) as client:
        response = client.post("/v1/embeddings", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "max_body_bytes=200" in response.json()["error"]["message"]


def test_k_and_unknown_fields_and_bad_types_are_refused_clearly():
    with _client(max_k=5) as client:
        too_many = client.post("/v1/search", json={"query": "x", "k": 6})
        assert too_many.status_code == 413 and "k=6 is more than max_k=5" in too_many.json()["error"]["message"]
        unknown = client.post("/v1/encode", json={"texts": ["a"], "colour": "red"})
        assert unknown.status_code == 422 and "colour" in unknown.json()["error"]["message"]
        wrong = client.post("/v1/encode", json={"texts": "not a list"})
        assert wrong.status_code == 422 and wrong.json()["error"]["param"] == "texts"
        junk = client.post("/v1/encode", content=b"\xff{", headers={"content-type": "application/json"})
        assert junk.status_code == 400 and "error" in junk.json() and "Traceback" not in junk.text


def test_bearer_auth_in_constant_time_and_open_health():
    with _client(api_key="s3cret") as client:
        assert client.get("/health").status_code == 200
        assert client.get("/").status_code == 200
        denied = client.post("/v1/embeddings", json={"input": "x"})
        assert denied.status_code == 401 and denied.json()["error"]["type"] == "authentication_error"
        assert client.post("/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/metrics").status_code == 401
        ok = client.post("/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_beyond_the_queue_the_server_answers_429_at_once():
    with _client(SlowEncoder(0.3), max_queue=1, batch_wait_ms=0) as client:
        def post(i: int):
            started = time.perf_counter()
            response = client.post("/v1/embeddings", json={"input": f"text {i}"})
            return response.status_code, time.perf_counter() - started, response

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(post, range(6)))
    codes = [code for code, _, _ in results]
    assert 429 in codes and 200 in codes and set(codes) <= {200, 429}
    refused = [(elapsed, r) for code, elapsed, r in results if code == 429]
    assert all(r.headers["retry-after"] == "1" and "the limit is 1" in r.json()["error"]["message"] for _, r in refused)
    assert min(elapsed for elapsed, _ in refused) < 0.3  # refused without waiting for the encoder


def test_concurrent_requests_share_forward_passes():
    encoder = SlowEncoder(0.1)
    with _client(encoder, batch_wait_ms=20) as client:
        barrier = threading.Barrier(8)

        def post(i: int) -> int:
            barrier.wait()
            return client.post("/v1/embeddings", json={"input": [f"text {i}", f"more {i}"]}).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(post, range(8))) == [200] * 8
    assert sum(encoder.calls) == 16
    assert len(encoder.calls) < 8 and max(encoder.calls) > 2  # merged: fewer calls than requests


def test_a_failing_request_fails_alone_without_a_stack_trace():
    encoder = SlowEncoder(0.05)
    with _client(encoder, batch_wait_ms=30) as client:
        barrier = threading.Barrier(4)

        def post(text: str):
            barrier.wait()
            return client.post("/v1/embeddings", json={"input": text})

        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(post, ["fine one", "boom", "fine two", "fine three"]))
    assert [r.status_code for r in responses] == [200, 500, 200, 200]
    body = responses[1].json()
    assert body == {"error": {"message": "internal error (logged on the server)", "type": "server_error",
                              "param": None, "code": 500}}


def test_the_batcher_plans_passes_with_the_backends_own_token_budget(tiny_m3):
    import asyncio

    from m3search.serve.batcher import DynamicBatcher

    seen = []

    class Recording:
        def __init__(self, inner):
            self.inner, self.batch_tokens = inner, inner.batch_tokens

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def encode_tokens(self, ids, **kwargs):
            seen.append(kwargs["max_batch_tokens"])
            return self.inner.encode_tokens(ids, **kwargs)

    assert tiny_m3.batch_tokens == 2048  # a CPU runs smaller passes faster
    batcher = DynamicBatcher(Recording(tiny_m3), max_batch_tokens=16_384)
    try:
        out = asyncio.run(batcher.submit(tiny_m3.tokenize(["Mount Everest"]), ("dense",)))
        assert out.dense.shape == (1, tiny_m3.dim)
    finally:
        batcher.close()
    assert batcher.pass_tokens == 2048 and seen == [2048]  # merged up to 16,384 tokens, passes of 2,048
    small = DynamicBatcher(tiny_m3, max_batch_tokens=1000)
    assert small.pass_tokens == 1000
    small.close()
