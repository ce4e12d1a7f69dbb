"""Long inputs on the tiny M3 checkpoint given 8,194 positions (built here, BGE-M3's shape in
miniature): MCLS and overlapping windows, checked against what they are defined to be."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from m3search.encode import Encoder
from m3search.encode.long import insert_cls, plan_windows
from m3search.errors import ConfigurationError, InputTooLongError

WORDS = ["der", "Berg", "ist", "hoch", "und", "der", "Fluss", "ist", "lang", ",", "die", "Stadt", "liegt", "am", "Meer"]


def long_text(n_words: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, n_words))


@pytest.fixture(scope="module")
def tiny_long_path(tmp_path_factory, tiny_m3_path):
    """The tiny checkpoint with its position table grown from 514 to 8,194 rows (seeded random rows)."""
    from safetensors.numpy import load_file, save_file

    target = tmp_path_factory.mktemp("tiny-long") / "tiny-long"
    shutil.copytree(tiny_m3_path, target)
    weights = load_file(str(target / "model.safetensors"))
    positions = weights["embeddings.position_embeddings.weight"]
    extra = np.random.default_rng(0).normal(0, 0.02, (8194 - len(positions), positions.shape[1])).astype(np.float32)
    weights["embeddings.position_embeddings.weight"] = np.concatenate([positions, extra])
    save_file(weights, str(target / "model.safetensors"))
    config = json.loads((target / "config.json").read_text())
    config["max_position_embeddings"] = 8194
    (target / "config.json").write_text(json.dumps(config))
    return target


def test_mcls_shapes_and_inserted_tokens_never_leak(tiny_long_path):
    plain = Encoder.load(tiny_long_path, device="cpu")
    mcls = Encoder.load(tiny_long_path, device="cpu", long_strategy="mcls", mcls_interval=16)
    assert plain.model_max_length == 8192  # XLM-R keeps two positions for padding, as BGE-M3
    text = long_text(300)
    ids = plain.tokenize([text])[0]
    inserted = mcls.plan([text])[0][0]
    body = len(ids) - 2
    assert len(inserted) == len(ids) + (body - 1) // 16 and inserted.count(ids[0]) == 1 + (body - 1) // 16
    out = mcls.encode([text], parts="all")
    reference = plain.encode([text], parts="all")
    assert out.dense.shape == (1, 32) and np.linalg.norm(out.dense[0]) == pytest.approx(1.0, abs=1e-5)
    assert len(out.colbert[0]) == len(ids) - 1  # one row per token but CLS: no inserted CLS among them
    assert ids[0] not in out.sparse[0].ids.tolist()  # CLS is never a lexical weight
    assert set(out.sparse[0].ids.tolist()) == set(reference.sparse[0].ids.tolist())  # same tokens, other contexts
    assert mcls.row_tokens(text) == ids[1:]
    # the dense vector is the mean of every CLS state: recompute it from the network's hidden states
    from m3search.encode.backends import TokenBatch

    hidden = mcls.backend.forward(TokenBatch.pad([inserted], mcls.tokenizer.pad_id), ("dense",)).hidden[0]
    cls_states = hidden[np.array(inserted) == ids[0]]
    expected = cls_states.mean(axis=0)
    np.testing.assert_allclose(out.dense[0], expected / np.linalg.norm(expected), atol=1e-5)


def test_a_text_shorter_than_the_interval_is_exactly_plain_cls_pooling(tiny_long_path):
    plain = Encoder.load(tiny_long_path, device="cpu")
    mcls = Encoder.load(tiny_long_path, device="cpu", long_strategy="mcls", mcls_interval=256)
    texts = ["Mount Everest ist hoch", long_text(60)]
    assert all(len(t) - 2 <= 256 for t in plain.tokenize(texts))
    a, b = plain.encode(texts, parts="all"), mcls.encode(texts, parts="all")
    np.testing.assert_array_equal(a.dense, b.dense)
    np.testing.assert_array_equal(a.colbert.data, b.colbert.data)
    assert [v.to_dict() for v in a.sparse] == [v.to_dict() for v in b.sparse]


def test_mcls_truncation_counts_the_inserted_tokens(tiny_long_path):
    mcls = Encoder.load(tiny_long_path, device="cpu", long_strategy="mcls", mcls_interval=8, max_length=64)
    text = long_text(400)
    (ids,), _ = mcls.plan([text])
    assert len(ids) == 64 and ids[-1] == 2
    with pytest.raises(InputTooLongError, match="with its inserted CLS tokens"):
        mcls.plan([text], truncation=False)
    with pytest.raises(ConfigurationError, match="needs a CLS-pooled model"):
        Encoder.load(tiny_long_path, device="cpu", long_strategy="mcls", pooling="mean")


def test_windows_cover_every_token_once_and_merge_as_defined(tiny_m3):
    windowed = Encoder.load(tiny_m3.source, device="cpu", long_strategy="windows", window_size=40, window_stride=24)
    text = long_text(220)
    full = [windowed.tokenize([text])[0][0], *windowed.row_tokens(text)]  # CLS + every token, untruncated
    assert len(full) > 200
    sequences, finish = windowed.plan([text])
    assert len(sequences) > 5 and all(len(s) <= 40 and s[0] == full[0] and s[-1] == full[-1] for s in sequences)
    windows = windowed.encode_tokens(sequences, parts="all")
    merged = finish(windows)
    out = windowed.encode([text], parts="all")
    np.testing.assert_array_equal(out.dense, merged.dense)
    # multi-vector: exactly one row per token of the whole text (CLS dropped), rows taken from the windows
    assert len(out.colbert[0]) == len(full) - 1
    first = windows.colbert[0]
    np.testing.assert_array_equal(out.colbert[0][: len(first) - 1], first[:-1])
    np.testing.assert_array_equal(out.colbert[0][-1], windows.colbert[len(sequences) - 1][-1])
    # sparse: the maximum weight per token over the windows
    best: dict[int, float] = {}
    for vector in windows.sparse:
        for token, weight in vector.to_dict().items():
            best[token] = max(best.get(token, 0.0), weight)
    assert out.sparse[0].to_dict() == pytest.approx(best)
    # dense: the windows' vectors weighted by the tokens each brings, normalised
    plan = plan_windows([full], [0], 40, 24)
    weights = np.array([w.keep_to - w.keep_from for w in plan.windows], np.float32)
    mean = (windows.dense * weights[:, None]).sum(axis=0) / weights.sum()
    np.testing.assert_allclose(out.dense[0], mean / np.linalg.norm(mean), atol=1e-6)


def test_short_texts_are_unchanged_by_windows(tiny_m3):
    windowed = Encoder.load(tiny_m3.source, device="cpu", long_strategy="windows")
    texts = ["Mount Everest", "Der Nil ist lang"]
    a, b = tiny_m3.encode(texts, parts="all"), windowed.encode(texts, parts="all")
    np.testing.assert_allclose(a.dense, b.dense, atol=1e-6)
    np.testing.assert_allclose(a.colbert.data, b.colbert.data, atol=1e-6)


def test_windows_repeat_the_role_prefix_in_every_window():
    plan = plan_windows([[0, 90, 91, 5, 6, 7, 8, 9, 2]], [2], size=6, stride=2)
    assert plan.sequences == [[0, 90, 91, 5, 6, 2], [0, 90, 91, 7, 8, 2], [0, 90, 91, 8, 9, 2]]
    assert insert_cls([0, 5, 2], interval=4, limit=None) == [0, 5, 2]


def test_settings_are_part_of_the_identity_and_a_long_document_is_one_hit(tiny_m3, tmp_path, capsys):
    from m3search.cli import main
    from m3search.index import Index
    from m3search.io.jsonl import write_jsonl

    plain = tiny_m3.identity
    windowed = Encoder.load(tiny_m3.source, device="cpu", long_strategy="windows", window_size=32)
    assert windowed.identity["settings"] != plain["settings"] and windowed.identity["long"] == {
        "long_strategy": "windows", "window_size": 32}
    assert "long" not in plain  # an index built before long inputs existed still matches
    corpus = tmp_path / "c.jsonl"
    docs = [{"id": "long", "text": long_text(700) + " Everest Kilimandscharo"}, {"id": "short", "text": "Der Nil"}]
    write_jsonl(corpus, docs)
    assert main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--model", str(tiny_m3.source), "-q",
                 "--long-strategy", "windows", "--window-size", "32"]) == 0
    with Index.open(tmp_path / "idx") as index:
        assert index.count() == 2
        stored = index.get(["long"], with_vectors=True)[0]
        assert len(stored.colbert) == len(windowed.row_tokens(docs[0]["text"]))
    capsys.readouterr()
    # search loads the encoder the index records, windows included, and finds the document once
    assert main(["search", "--index", str(tmp_path / "idx"), "Kilimandscharo", "--json", "--explain", "-k", "5"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert sorted(h["id"] for h in result["hits"]) == ["long", "short"]
    long_hit = next(h for h in result["hits"] if h["id"] == "long")
    # every query token is aligned, also with rows past the first window (none dropped for lack of a token)
    assert len(long_hit["explanation"]["colbert"]) == len(windowed.row_tokens("Kilimandscharo", role="query"))


def test_best_window_dense_scores_a_document_by_its_best_window_in_one_query(tiny_m3, tmp_path, capsys):
    from m3search.cli import main
    from m3search.index import Index
    from m3search.io import embeddings as embeddings_io
    from m3search.io.jsonl import write_jsonl
    from m3search.search import Searcher

    best = Encoder.load(tiny_m3.source, device="cpu", long_strategy="windows", window_size=32, window_dense="best")
    assert best.identity["long"]["window_dense"] == "best"
    with pytest.raises(ConfigurationError, match="window_dense 'best' needs long_strategy 'windows'"):
        Encoder.load(tiny_m3.source, device="cpu", window_dense="best")
    texts = [long_text(300, seed=1), long_text(200, seed=2) + " Everest Kilimandscharo", "Der Nil"]
    docs = best.encode(texts, parts="all")
    windows = docs.dense_windows
    assert windows is not None and len(windows) == 3 and len(windows[0]) > 5 and len(windows[2]) == 1
    mean = Encoder.load(tiny_m3.source, device="cpu", long_strategy="windows", window_size=32).encode(texts, parts="all")
    np.testing.assert_array_equal(docs.dense, mean.dense)  # the one-vector dense is still the mean
    assert mean.dense_windows is None
    # every window is the dense vector of that window's own sequence
    sequences, _ = best.plan(texts[:1])
    np.testing.assert_allclose(windows[0], best.encode_tokens(sequences).dense, atol=1e-6)
    # the embeddings files keep the windows
    for suffix in ("npz", "jsonl"):
        embeddings_io.save(tmp_path / f"e.{suffix}", ["a", "b", "c"], docs)
        np.testing.assert_allclose(embeddings_io.load(tmp_path / f"e.{suffix}")[1].dense_windows.data, windows.data, atol=1e-6)

    queries = best.encode(["Kilimandscharo", "Berg Fluss"], role="query", parts="all")
    expected = np.array([[float((windows[d] @ q).max()) for d in range(3)] for q in queries.dense])
    from qdrant_client import QdrantClient

    from m3search.index import QdrantClientBackend

    for target in (tmp_path / "edge", QdrantClientBackend(QdrantClient(":memory:"), "windows")):
        with Index.create(target, best.identity) as index:
            index.add(["a", "b", "c"], docs, texts=texts)
            for exact in (True, False):
                for i, hits in enumerate(index.query("dense", queries, 3, exact=exact)):
                    assert {h.doc_id: h.score for h in hits} == pytest.approx(dict(zip("abc", expected[i])), abs=1e-5)
    with Index.create(tmp_path / "idx", best.identity) as index:
        assert index.manifest.dense_windows
        index.add(["a", "b", "c"], docs, texts=texts)
        stored = index.get(["a"], with_vectors=True)[0]
        np.testing.assert_allclose(stored.dense_windows, windows[0], atol=1e-6)
        # fused modes take the best window's score as their dense part; one hit per document
        hits = Searcher(best, index, mode="dense+sparse").search(["Kilimandscharo"], k=3)[0]
        assert sorted(h.id for h in hits) == ["a", "b", "c"]
        assert {h.id: h.scores["dense"] for h in hits} == pytest.approx(dict(zip("abc", expected[0])), abs=1e-5)

    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, [{"id": i, "text": t} for i, t in zip("abc", texts)])
    assert main(["index", str(corpus), "--index", str(tmp_path / "cli"), "--model", str(tiny_m3.source), "-q",
                 "--long-strategy", "windows", "--window-size", "32", "--window-dense", "best"]) == 0
    capsys.readouterr()
    assert main(["search", "--index", str(tmp_path / "cli"), "Kilimandscharo", "Berg Fluss", "--mode", "dense",
                 "--json", "-k", "3"]) == 0
    results = json.loads(capsys.readouterr().out)
    for i, result in enumerate(results):
        assert {h["id"]: h["score"] for h in result["hits"]} == pytest.approx(dict(zip("abc", expected[i])), abs=1e-5)
    # the explanation names the window that gave the dense score
    assert main(["search", "--index", str(tmp_path / "cli"), "Kilimandscharo", "--mode", "dense", "--json", "-k", "3",
                 "--explain"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    for hit in result["hits"]:
        d = "abc".index(hit["id"])
        assert hit["explanation"]["dense_window"] == int(np.argmax(windows[d] @ queries.dense[0]))
        assert hit["explanation"]["dense_windows"] == len(windows[d])


@pytest.mark.parametrize("bad", [True, 5.0, -1, 10**9, "7"])
def test_encode_tokens_refuses_what_is_not_a_vocabulary_id(tiny_m3, bad):
    from m3search.errors import ConfigurationError

    ids = tiny_m3.tokenize(["Everest"])[0]
    with pytest.raises(ConfigurationError, match=rf"token_ids\[0\]\[1\] is {re.escape(repr(bad))}: token ids are integers"):
        tiny_m3.encode_tokens([[ids[0], bad, ids[-1]]])
