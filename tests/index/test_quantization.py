"""The engine's own quantisation as index settings: recorded in the manifest, laid out by both
engines, searched with rescoring (the originals' exact scores) or without (the quantised copy's
approximations), and bad settings refused."""

from __future__ import annotations

import json

import pytest
from qdrant_client import QdrantClient, models

from m3search.cli import main
from m3search.errors import ConfigurationError
from m3search.index import Index, IndexOptions
from m3search.index.backends.remote import QdrantClientBackend
from m3search.search import Searcher
from tests.corpora import make_corpus
from tests.search.test_searcher import QUERIES

QUANTIZED = {"vectors": {"dense": "int8", "colbert": "turbo4", "colbert_fde": "binary"}}
FDE = {"k_sim": 3, "dim_proj": 4, "reps": 4}


def _index(target, encoder, quantization, fde=FDE) -> Index:
    corpus = make_corpus(200)
    index = Index.create(target, encoder.identity, options=IndexOptions(quantization=quantization, fde=fde))
    index.add([d["id"] for d in corpus], encoder.encode([d["text"] for d in corpus], parts="all"),
              texts=[d["text"] for d in corpus])
    index.optimize()
    return index


def test_rescored_search_gives_the_originals_scores(tmp_path, fake_encoder):
    plain, quantized = _index(tmp_path / "plain", fake_encoder, None), _index(tmp_path / "q", fake_encoder, QUANTIZED)
    config = json.loads((tmp_path / "q" / "shard" / "edge_config.json").read_text())["vectors"]
    assert config["dense"]["quantization_config"]["scalar"]["type"] == "int8"
    assert config["colbert"]["quantization_config"]["turbo"]["bits"] == "bits4"
    assert "binary" in config["colbert_fde"]["quantization_config"]
    assert quantized.manifest.quantization == {**QUANTIZED, "oversampling": 2.0, "rescore": True}
    queries = fake_encoder.encode(QUERIES, role="query", parts="all")
    for mode in ("dense", "colbert", "all"):  # every document a candidate: the scores alone can differ
        a = Searcher(fake_encoder, plain, candidates=200).search_embeddings(queries, 10, mode=mode, fetch_documents=False)
        b = Searcher(fake_encoder, quantized, candidates=200).search_embeddings(queries, 10, mode=mode,
                                                                               fetch_documents=False)
        for x, y in zip(a, b):
            assert [round(h.score, 4) for h in x] == [round(h.score, 4) for h in y], mode
    plain.close()
    quantized.close()


def test_without_rescoring_scores_come_from_the_quantised_copy(tmp_path, fake_encoder):
    exact = _index(tmp_path / "plain", fake_encoder, None, fde=None)
    approx = _index(tmp_path / "q", fake_encoder, {"vectors": {"colbert": "turbo4"}, "rescore": False}, fde=None)
    queries = fake_encoder.encode(QUERIES, role="query", parts="all")
    a = Searcher(fake_encoder, exact, candidates=40).search_embeddings(queries, 10, mode="all", fetch_documents=False)
    b = Searcher(fake_encoder, approx, candidates=40).search_embeddings(queries, 10, mode="all", fetch_documents=False)
    colbert = [(x.scores["colbert"], y.scores["colbert"]) for xs, ys in zip(a, b)
               for x in xs for y in ys if x.id == y.id]
    assert colbert and max(abs(x - y) for x, y in colbert) < 0.05  # on the same scale, approximately
    assert any(abs(x - y) > 1e-4 for x, y in colbert)  # but not the originals' scores
    exact.close()
    approx.close()


def test_a_server_collection_is_laid_out_with_the_quantisation(fake_encoder):
    client = QdrantClient(":memory:")  # local mode echoes the layout (it searches by brute force)
    index = Index.create(QdrantClientBackend(client, "docs"), fake_encoder.identity,
                         options=IndexOptions(quantization={"vectors": {"dense": "int8", "colbert": "binary"}}))
    vectors = client.get_collection("docs").config.params.vectors
    assert isinstance(vectors["dense"].quantization_config, models.ScalarQuantization)
    assert isinstance(vectors["colbert"].quantization_config, models.BinaryQuantization)
    assert index.manifest.quantization["vectors"] == {"dense": "int8", "colbert": "binary"}
    index.close()


@pytest.mark.parametrize(("settings", "message"), [
    ({"vectors": {"dense": "int4"}}, "unknown quantisation 'int4' for 'dense'"),
    ({"vectors": {"sparse": "int8"}}, "cannot quantise 'sparse'"),
    ({"vectors": {}}, "names no vector"),
    ({"vectors": {"dense": "int8"}, "oversampling": 0}, "oversampling must be a number in [1, 100], got 0"),
    ({"vectors": {"dense": "int8"}, "rescore": "yes"}, "rescore must be true or false"),
    ({"vectors": {"colbert": "binary"}, "rescore": False}, "binary quantisation of ['colbert'] needs rescore"),
    ({"vectors": {"dense": "int8"}, "bits": 4}, "unknown quantisation setting"),
])
def test_bad_settings_are_refused_naming_the_value(settings, message):
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        IndexOptions(quantization=settings)


def test_settings_that_do_not_fit_the_index_are_refused(tmp_path, fake_encoder):
    with pytest.raises(ConfigurationError, match=r"cannot quantise \['colbert_fde'\]"):
        Index.create(tmp_path / "a", fake_encoder.identity, options=IndexOptions(quantization={"vectors": {"colbert_fde": "int8"}}))
    with pytest.raises(ConfigurationError, match="stored as uint8 cannot also be quantised"):
        Index.create(tmp_path / "b", fake_encoder.identity,
                     options=IndexOptions(colbert_storage="uint8", quantization={"vectors": {"colbert": "int8"}}))
    _index(tmp_path / "c", fake_encoder, {"vectors": {"dense": "int8"}}, fde=None).close()
    with pytest.raises(ConfigurationError, match="has the quantisation"):
        Index.open_or_create(tmp_path / "c", fake_encoder.identity,
                             options=IndexOptions(quantization={"vectors": {"dense": "binary"}}))


def test_the_cli_sets_quantisation(tiny_m3_path, tmp_path, capsys):
    from m3search.io.jsonl import write_jsonl

    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, [{"id": "everest", "text": "Der Mount Everest ist 8848 m hoch."},
                         {"id": "nile", "text": "Der Nil ist ein Fluss in Afrika."}])
    idx = tmp_path / "idx"
    assert main(["index", str(corpus), "--index", str(idx), "--model", str(tiny_m3_path), "-q",
                 "--quantize", "dense=int8,colbert=turbo4", "--oversampling", "3"]) == 0
    with Index.open(idx) as index:
        assert index.manifest.quantization == {"vectors": {"dense": "int8", "colbert": "turbo4"}, "oversampling": 3.0,
                                               "rescore": True}
    capsys.readouterr()
    assert main(["search", "--index", str(idx), "Wie hoch ist der Everest?", "--json"]) == 0
    assert '"everest"' in capsys.readouterr().out
    for flags, message in ((["--quantize", "dense"], "--quantize takes NAME=METHOD"),
                           (["--quantize", "dense=int3"], "unknown quantisation 'int3'"),
                           (["--oversampling", "2"], "--oversampling needs --quantize")):
        assert main(["index", str(corpus), "--index", str(tmp_path / "bad"), "--model", str(tiny_m3_path), *flags]) == 2
        assert message in capsys.readouterr().err
