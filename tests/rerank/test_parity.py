"""Parity with FlagEmbedding's FlagReranker on two seeded tiny cross-encoders (the goldens are
made by ``scripts/make_tiny_rerankers.py`` in the reference environment): the bge-reranker-v2-m3
layout (XLM-R) and a plain BERT cross-encoder with token types, at 512 tokens and at 32 (long
pairs truncated: the query to 24 tokens, the passage to what is left)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from m3search import CrossEncoder
from m3search.encode.backends.cpu_int8 import saturating_int8

TOL = 1e-5


@pytest.fixture(scope="module")
def golden(fixtures_dir):
    return json.loads((fixtures_dir / "reranker-goldens.json").read_text())


@pytest.mark.parametrize("model", ["tiny-reranker", "tiny-bert-reranker"])
@pytest.mark.parametrize("length", [512, 32])
def test_scores_match_flag_reranker(fixtures_dir, golden, model, length):
    ce = CrossEncoder.load(fixtures_dir / model, device="cpu")
    pairs = [tuple(p) for p in golden["pairs"]]
    expected = golden["models"][model][str(length)]
    logits = ce.score(pairs, max_length=length, batch_size=3)
    np.testing.assert_allclose(logits, np.array(expected["logits"]), atol=TOL, rtol=0)
    normalized = ce.score(pairs, max_length=length, normalize=True, max_batch_tokens=64)  # other batches, same scores
    np.testing.assert_allclose(normalized, np.array(expected["normalized"]), atol=TOL, rtol=0)
    assert logits.dtype == np.float32 and len(set(np.round(logits, 4))) > 4  # not a constant


def test_the_bert_layout_reads_token_types_and_xlmr_does_not(fixtures_dir):
    assert CrossEncoder.load(fixtures_dir / "tiny-bert-reranker", device="cpu").scorer.uses_type_ids
    assert not CrossEncoder.load(fixtures_dir / "tiny-reranker", device="cpu").scorer.uses_type_ids


@pytest.mark.parametrize("model", ["tiny-reranker", "tiny-bert-reranker"])
def test_onnx_backends_match_flag_reranker(fixtures_dir, golden, model, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("M3SEARCH_CACHE", str(tmp_path))  # a fresh export, checked against torch at export
    pairs = [tuple(p) for p in golden["pairs"]]
    expected = np.array(golden["models"][model]["32"]["logits"])
    onnx = CrossEncoder.load(fixtures_dir / model, backend="onnx")
    np.testing.assert_allclose(onnx.score(pairs, max_length=32), expected, atol=1e-4, rtol=0)
    int8 = CrossEncoder.load(fixtures_dir / model, backend="onnx-int8")
    got = int8.score(pairs, max_length=32)
    # int8 weights: close, not equal, on every CPU: where ONNX Runtime's uint8 x int8 products
    # saturate (x86 with AVX2, no VNNI) the graph has 7-bit weights (0.24 away without them)
    assert np.abs(got - expected).max() < 0.1 and not np.allclose(got, expected, atol=1e-6)
    suffix = "+int8rr" if saturating_int8() else "+int8"
    assert onnx.identity["backend"] == "onnx" and int8.identity["weights"].endswith(suffix)


def test_the_int8_graph_takes_7_bit_weights_where_int8_products_saturate(fixtures_dir, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from m3search.rerank import onnx_scorer

    monkeypatch.setenv("M3SEARCH_CACHE", str(tmp_path))
    for saturating, folder in ((True, "onnx-int8-rr"), (False, "onnx-int8")):
        monkeypatch.setattr(onnx_scorer, "saturating_int8", lambda saturating=saturating: saturating)
        scorer = CrossEncoder.load(fixtures_dir / "tiny-reranker", backend="onnx-int8").scorer
        target = onnx_scorer.rerank_graph_dir(fixtures_dir / "tiny-reranker", "onnx-int8")
        assert target.name == folder and scorer.meta == json.loads((target / "m3search-onnx.json").read_text())
        assert scorer.meta.get("reduce_range", False) is saturating
