"""Dense vectors stored as float16 by the engine: half the bytes, scores of the rounded vectors,
recorded in the manifest, laid out by both engines, kept by an existing index."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qdrant_client import QdrantClient

from m3search.errors import ConfigurationError
from m3search.index import Index, IndexOptions
from m3search.index.backends.remote import QdrantClientBackend
from m3search.search import Searcher
from tests.corpora import make_corpus
from tests.search.test_searcher import QUERIES


def _build(path, encoder, corpus, **options):
    index = Index.create(path, encoder.identity, options=IndexOptions(**options))
    index.add([d["id"] for d in corpus], encoder.encode([d["text"] for d in corpus], parts="all"))
    index.optimize()
    return index


def test_float16_dense_halves_the_stored_matrix_and_scores_the_rounded_vectors(tmp_path, fake_encoder):
    corpus = make_corpus(1000)
    full = _build(tmp_path / "f32", fake_encoder, corpus)
    half = _build(tmp_path / "f16", fake_encoder, corpus, dense_storage="float16")
    config = json.loads((tmp_path / "f16" / "shard" / "edge_config.json").read_text())["vectors"]
    assert config["dense"]["datatype"].lower() == "float16"
    assert half.manifest.dense_storage == "float16" and half.manifest.extra["dense_storage"] == "float16"
    assert full.manifest.dense_storage == "float32" and "dense_storage" not in full.manifest.extra

    def dense_bytes(root):  # allocated blocks of the dense vectors' storage (its files are preallocated)
        return sum(f.stat().st_blocks for f in root.rglob("vector_storage-dense/vectors/*") if f.is_file())

    assert dense_bytes(tmp_path / "f16") < 0.6 * dense_bytes(tmp_path / "f32")
    queries = fake_encoder.encode(QUERIES, role="query", parts="all")
    docs = fake_encoder.encode([d["text"] for d in corpus], parts="dense").dense
    rounded = docs.astype(np.float16).astype(np.float32)
    hits = Searcher(fake_encoder, half).search_embeddings(queries, 5, mode="dense", exact=True, fetch_documents=False)
    position = {d["id"]: i for i, d in enumerate(corpus)}
    for q, found in enumerate(hits):  # the engine scores in float16: within its rounding of the rounded vectors
        expected = rounded @ queries.dense[q]
        fifth = float(np.sort(expected)[-5])
        for h in found:
            assert h.score == pytest.approx(float(expected[position[h.id]]), abs=2e-3)
            assert float(expected[position[h.id]]) >= fifth - 2e-3
    stored = half.get([corpus[0]["id"]], with_vectors=True)[0]
    np.testing.assert_array_equal(stored.dense, rounded[0])
    half.close()
    full.close()
    reopened = Index.open(tmp_path / "f16")
    assert reopened.manifest.dense_storage == "float16"
    reopened.close()
    with pytest.raises(ConfigurationError, match="stores dense vectors as float16, not float32"):
        Index.open_or_create(tmp_path / "f16", fake_encoder.identity, options=IndexOptions(dense_storage="float32"))


def test_a_server_collection_stores_float16_dense(fake_encoder):
    client = QdrantClient(":memory:")
    index = Index.create(QdrantClientBackend(client, "docs"), fake_encoder.identity,
                         options=IndexOptions(dense_storage="float16"))
    vectors = client.get_collection("docs").config.params.vectors
    assert str(vectors["dense"].datatype).lower().endswith("float16")
    index.close()


def test_bad_dense_storage_is_refused_naming_the_value(fake_encoder):
    with pytest.raises(ConfigurationError, match="dense_storage must be one of .*got 'uint8'"):
        IndexOptions(dense_storage="uint8")
    with pytest.raises(ConfigurationError, match="the index holds no dense vectors"):
        IndexOptions(parts=["sparse"], dense_storage="float16").manifest(fake_encoder.identity)
    without_dense = IndexOptions(compression="compact", parts=["sparse", "colbert"]).manifest(fake_encoder.identity)
    assert "dense_storage" not in without_dense.extra and not any(s.name == "dense" for s in without_dense.vectors)


def test_the_cli_stores_float16_dense(tiny_m3_path, tmp_path, capsys):
    from m3search.cli import main
    from m3search.io.jsonl import write_jsonl

    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, [{"id": "everest", "text": "Der Mount Everest ist 8848 m hoch."},
                         {"id": "nile", "text": "Der Nil ist ein Fluss in Afrika."}])
    idx = tmp_path / "idx"
    assert main(["index", str(corpus), "--index", str(idx), "--model", str(tiny_m3_path), "-q",
                 "--dense-storage", "float16"]) == 0
    with Index.open(idx) as index:
        assert index.manifest.dense_storage == "float16"
    capsys.readouterr()
    assert main(["search", "--index", str(idx), "Wie hoch ist der Everest?", "--mode", "dense", "--json"]) == 0
    assert '"everest"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:  # argparse's own choice check
        main(["index", str(corpus), "--index", str(tmp_path / "bad"), "--model", str(tiny_m3_path),
              "--dense-storage", "float64"])
    assert stopped.value.code == 2 and "invalid choice: 'float64'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_eval_reads_dense_vectors_as_a_float16_index_stores_them():
    from m3search.eval.runner import as_stored
    from m3search.types import Embeddings

    dense = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    stored = as_stored(Embeddings(dense=dense), "float16", "float16")
    np.testing.assert_array_equal(stored.dense, dense.astype(np.float16).astype(np.float32))
    assert as_stored(Embeddings(dense=dense), "float16").dense is dense
