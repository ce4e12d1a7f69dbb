"""The rerank stage in search: a cross-encoder orders each query's first hits; hits keep every
stage's score; depth and texts are checked."""

from __future__ import annotations

import numpy as np
import pytest

from m3search import CrossEncoder
from m3search.errors import ConfigurationError
from m3search.index import Index
from m3search.search import Searcher
from tests.corpora import make_corpus


@pytest.fixture(scope="module")
def reranker(fixtures_dir):
    return CrossEncoder.load(fixtures_dir / "tiny-reranker", device="cpu")


@pytest.fixture
def indexed(tmp_path, fake_encoder):
    corpus = make_corpus(60)
    index = Index.create(tmp_path / "idx", fake_encoder.identity)
    texts = [d["text"] for d in corpus]
    index.add([d["id"] for d in corpus], fake_encoder.encode(texts, parts="all"), texts=texts)
    yield index, {d["id"]: d["text"] for d in corpus}
    index.close()


def test_the_first_hits_are_ordered_by_the_cross_encoder(indexed, fake_encoder, reranker):
    index, texts = indexed
    query = texts["doc-3"]
    first = Searcher(fake_encoder, index).search([query], k=20)[0]
    hits = Searcher(fake_encoder, index, rerank=reranker, rerank_depth=20).search([query], k=5)[0]
    expected = reranker.score([(query, h.text) for h in first])
    order = np.argsort(-expected, kind="stable")[:5]
    assert [h.id for h in hits] == [first[i].id for i in order]
    for hit, i in zip(hits, order):
        assert hit.score == pytest.approx(expected[i], abs=1e-6) and hit.scores["rerank"] == hit.score
        assert hit.scores["all"] == pytest.approx(first[i].score)  # the first stage's own score is kept
        assert set(hit.scores) == {"dense", "sparse", "colbert", "all", "rerank"}


def test_depth_and_texts_are_checked(tmp_path, indexed, fake_encoder, reranker):
    index, _ = indexed
    with pytest.raises(ConfigurationError, match=r"k \(10\) exceeds rerank_depth \(5\)"):
        Searcher(fake_encoder, index, rerank=reranker, rerank_depth=5).search(["river"], k=10)
    with pytest.raises(ConfigurationError, match="rerank_depth must be an integer >= 1, got 0"):
        Searcher(fake_encoder, index, rerank=reranker, rerank_depth=0)
    bare = Index.create(tmp_path / "bare", fake_encoder.identity)
    bare.add(["a"], fake_encoder.encode(["river delta"], parts="all"))
    with pytest.raises(ConfigurationError, match="reranking reads the documents' texts, and 'a' has none stored"):
        Searcher(fake_encoder, bare, rerank=reranker, rerank_depth=5).search(["river"], k=1)
    bare.close()


def test_the_cli_reranks_and_prints_every_stage(tiny_m3_path, tmp_path, capsys, monkeypatch):
    import json

    from m3search.cli import main
    from m3search.io.jsonl import write_jsonl

    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, [{"id": "everest", "text": "Der Mount Everest ist 8848 m hoch."},
                         {"id": "nile", "text": "Der Nil ist ein Fluss in Afrika."},
                         {"id": "rhine", "text": "Der Rhein fließt durch Deutschland."}])
    assert main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--model", str(tiny_m3_path), "-q"]) == 0
    reranker = str(tiny_m3_path.parent / "tiny-reranker")
    capsys.readouterr()
    assert main(["search", "--index", str(tmp_path / "idx"), "Fluss in Afrika", "--rerank", reranker,
                 "--rerank-depth", "3", "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)[0]["hits"]
    expected = CrossEncoder.load(reranker, device="cpu").score([("Fluss in Afrika", h["text"]) for h in hits])
    assert [h["score"] for h in hits] == pytest.approx(sorted(expected.tolist(), reverse=True), abs=1e-6)
    assert all({"all", "rerank"} <= set(h["scores"]) for h in hits)
    assert main(["search", "--index", str(tmp_path / "idx"), "Fluss in Afrika", "--rerank", reranker,
                 "--rerank-depth", "3", "-k", "2"]) == 0
    header = capsys.readouterr().out.splitlines()[2]
    assert header.split()[-3:] == ["all", "rerank", "text"]
    monkeypatch.setenv("M3SEARCH_CACHE", str(tmp_path / "cache"))  # the ONNX export goes there
    assert main(["search", "--index", str(tmp_path / "idx"), "Fluss in Afrika", "--rerank", reranker,
                 "--rerank-backend", "onnx", "--rerank-depth", "3", "-k", "3", "--json"]) == 0
    onnx_hits = json.loads(capsys.readouterr().out)[0]["hits"]
    assert [h["id"] for h in onnx_hits] == [h["id"] for h in hits]
    assert [h["score"] for h in onnx_hits] == pytest.approx([h["score"] for h in hits], abs=1e-4)
