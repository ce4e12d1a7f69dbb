"""The backend seam: the pipeline turns any backend's raw per-token outputs into embeddings,
without torch; the torch backend's raw outputs are what the pipeline expects."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from m3search.encode import Encoder, EncoderBackend, EncoderConfig
from m3search.encode.backends.base import TokenBatch
from m3search.encode.tokenizer import TextTokenizer
from tests.encode.numpy_backend import NumpyBackend

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["Der Mount Everest ist der höchste Berg", "Berg Berg Berg", "x", "珠穆朗玛峰是世界最高峰"]


@pytest.fixture(scope="module")
def numpy_encoder(tiny_m3_path):
    tokenizer = TextTokenizer.load(tiny_m3_path)
    return Encoder(NumpyBackend(len(tokenizer)), tokenizer, EncoderConfig(name="numpy", pooling="mean"))


def test_numpy_backend_satisfies_the_protocol():
    assert isinstance(NumpyBackend(10), EncoderBackend)


def test_pipeline_post_processing_by_hand(numpy_encoder):
    backend, tokenizer = numpy_encoder.backend, numpy_encoder.tokenizer
    out = numpy_encoder.encode(TEXTS, parts="all", batch_size=2)
    for i, ids in enumerate(numpy_encoder.tokenize(TEXTS)):
        hidden = backend.table[ids]
        dense = hidden.mean(axis=0)
        np.testing.assert_allclose(out.dense[i], dense / np.linalg.norm(dense), atol=1e-6)
        weights = np.maximum(hidden @ backend.w_sparse, 0)
        expected: dict[int, float] = {}
        for token, weight in zip(ids, weights):
            if token not in tokenizer.special_ids and weight > 0:
                expected[token] = max(expected.get(token, 0.0), float(weight))
        assert out.sparse[i].to_dict() == pytest.approx(expected, abs=1e-6)
        rows = hidden[1:] @ backend.w_colbert  # CLS dropped, </s> kept
        np.testing.assert_allclose(out.colbert[i], rows / np.linalg.norm(rows, axis=1, keepdims=True), atol=1e-6)


def test_pipeline_batches_by_token_budget(tiny_m3_path):
    tokenizer = TextTokenizer.load(tiny_m3_path)
    backend = NumpyBackend(len(tokenizer))
    Encoder(backend, tokenizer, EncoderConfig(name="numpy")).encode(TEXTS * 3, max_batch_tokens=30, batch_size=4)
    assert all(rows * length <= 30 or rows == 1 for rows, length in backend.calls)
    assert sum(rows for rows, _ in backend.calls) == 12


def test_cls_pooling_takes_the_first_state(tiny_m3_path):
    tokenizer = TextTokenizer.load(tiny_m3_path)
    encoder = Encoder(NumpyBackend(len(tokenizer)), tokenizer, EncoderConfig(name="numpy", pooling="cls"))
    out = encoder.encode(["Berg"])
    first = encoder.backend.table[encoder.tokenize(["Berg"])[0][0]]
    np.testing.assert_allclose(out.dense[0], first / np.linalg.norm(first), atol=1e-6)


def test_torch_backend_returns_raw_per_token_outputs(tiny_m3):
    import torch

    ids = tiny_m3.tokenize(["Mount Everest"])
    batch = TokenBatch.pad(ids + tiny_m3.tokenize(["a much longer second text than the first"]), tiny_m3.tokenizer.pad_id)
    raw = tiny_m3.backend.forward(batch, ("dense", "sparse", "colbert"))
    net = tiny_m3.backend.network
    with torch.no_grad():
        hidden = net.backbone(input_ids=torch.tensor(batch.input_ids), attention_mask=torch.tensor(batch.attention_mask))
        hidden = hidden.last_hidden_state
        np.testing.assert_allclose(raw.hidden, hidden.numpy(), atol=1e-6)
        np.testing.assert_allclose(raw.sparse, torch.relu(net.sparse_linear(hidden)).squeeze(-1).numpy(), atol=1e-6)
        np.testing.assert_allclose(raw.colbert, net.colbert_linear(hidden).numpy(), atol=1e-6)
    assert raw.colbert.shape[:2] == batch.input_ids.shape  # every position, un-normalised


def test_pipeline_with_a_torch_free_backend_never_imports_torch(tiny_m3_path):
    script = textwrap.dedent(f"""
        import sys
        from m3search.encode import Encoder, EncoderConfig
        from m3search.encode.tokenizer import TextTokenizer
        from tests.encode.numpy_backend import NumpyBackend
        tok = TextTokenizer.load(__import__("pathlib").Path({str(tiny_m3_path)!r}))
        out = Encoder(NumpyBackend(len(tok)), tok, EncoderConfig(name="numpy")).encode(["Berg"], parts="all")
        assert len(out) == 1
        print("torch" in sys.modules, "transformers" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], check=False, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_threads_with_different_max_length_do_not_share_truncation(tiny_m3):
    text = "Berg " * 100
    full = len(tiny_m3.tokenize([text], truncation=False)[0])
    assert 100 < full < 512
    barrier = threading.Barrier(4)
    results: dict[int, list[int]] = {}

    def work(limit: int) -> None:
        barrier.wait()
        for _ in range(30):
            lengths = [len(ids) for ids in tiny_m3.tokenize([text], max_length=limit)]
            results.setdefault(limit, []).extend(lengths)

    threads = [threading.Thread(target=work, args=(limit,)) for limit in (16, 40, 100, 512)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {limit: set(lengths) for limit, lengths in results.items()} == {16: {16}, 40: {40}, 100: {100}, 512: {full}}
