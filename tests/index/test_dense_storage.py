"""Dense vectors stored as float16 or uint8 codes by the engine: half or a quarter of the bytes,
scores of the rounded vectors, recorded in the manifest, laid out by both engines, kept by an
existing index."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qdrant_client import QdrantClient

from m3search.errors import ConfigurationError, InputError, InvalidDocumentError
from m3search.index import Index, IndexOptions, codecs
from m3search.index.backends.remote import QdrantClientBackend
from m3search.search import Searcher
from m3search.types import Embeddings, Ragged
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


def _uint8_rounded(rows: np.ndarray) -> np.ndarray:
    """What the codes of ``rows`` in a new index's layout decode to."""
    layout = codecs.CURRENT_CODEC
    return codecs.decode_documents(codecs.encode_documents(rows, codec=layout), rows.shape[1], codec=layout)


def _search_uint8_dense(index, encoder, corpus):
    """Every query's exact and HNSW dense hits score ``q~ . d~`` (query and documents as rounded
    to codes) and are its top 5 by that score."""
    queries = encoder.encode(QUERIES, role="query", parts="all")
    docs = _uint8_rounded(encoder.encode([d["text"] for d in corpus], parts="dense").dense)
    position = {d["id"]: i for i, d in enumerate(corpus)}
    searcher = Searcher(encoder, index)
    for exact in (True, False):
        hits = searcher.search_embeddings(queries, 5, mode="dense", exact=exact, fetch_documents=False)
        for q, found in enumerate(hits):
            expected = docs @ _uint8_rounded(queries.dense[q : q + 1])[0]
            assert [h.id for h in found] == [corpus[i]["id"] for i in np.argsort(-expected, kind="stable")[:5]]
            for h in found:
                assert h.score == pytest.approx(float(expected[position[h.id]]), abs=1e-4)  # float32 sums of bytes
    return docs


def test_uint8_dense_takes_a_quarter_of_the_bytes_and_scores_the_rounded_vectors(tmp_path, fake_encoder):
    corpus = make_corpus(300)
    full = _build(tmp_path / "f32", fake_encoder, corpus)
    codes = _build(tmp_path / "u8", fake_encoder, corpus, dense_storage="uint8")
    config = json.loads((tmp_path / "u8" / "shard" / "edge_config.json").read_text())["vectors"]
    dim = fake_encoder.identity["dim"]
    assert config["dense"]["datatype"].lower() == "uint8" and config["dense"]["size"] == dim + 1
    assert codes.manifest.dense_storage == "uint8" and codes.manifest.extra["uint8_codec"] == 4
    docs = _search_uint8_dense(codes, fake_encoder, corpus)
    stored = codes.get([corpus[7]["id"]], with_vectors=True)[0]
    np.testing.assert_allclose(stored.dense, docs[7], atol=1e-6)
    plain = Searcher(fake_encoder, full).search(QUERIES[:1], 5, mode="dense")[0]
    rounded = Searcher(fake_encoder, codes).search(QUERIES[:1], 5, mode="dense")[0]
    assert [h.score for h in rounded] == pytest.approx([h.score for h in plain], abs=0.01)
    codes.close()
    full.close()
    with pytest.raises(ConfigurationError, match="stores dense vectors as uint8, not float16"):
        Index.open_or_create(tmp_path / "u8", fake_encoder.identity, options=IndexOptions(dense_storage="float16"))


def test_a_server_collection_stores_and_searches_uint8_dense(fake_encoder):
    client = QdrantClient(":memory:")
    corpus = make_corpus(60)
    index = Index.create(QdrantClientBackend(client, "docs"), fake_encoder.identity,
                         options=IndexOptions(dense_storage="uint8"))
    vectors = client.get_collection("docs").config.params.vectors
    assert str(vectors["dense"].datatype).lower().endswith("uint8")
    index.add([d["id"] for d in corpus], fake_encoder.encode([d["text"] for d in corpus], parts="all"))
    _search_uint8_dense(index, fake_encoder, corpus)
    index.close()


def test_uint8_dense_refuses_a_vector_longer_than_one_and_stores_nothing(tmp_path, fake_encoder):
    index = Index.create(tmp_path / "u8", fake_encoder.identity, options=IndexOptions(dense_storage="uint8"))
    docs = fake_encoder.encode(["a", "b"], parts="all")
    docs.dense[1] *= 1.5
    with pytest.raises(InvalidDocumentError, match="document 'b': a dense vector of length 1.500"):
        index.add(["a", "b"], docs)
    assert index.count() == 0
    docs.dense[1] /= 1.5 / 1.03  # a decoded vector stored again is a rounding longer than 1: kept
    index.add(["a", "b"], docs)
    assert index.count() == 2
    index.close()


def test_bad_dense_storage_is_refused_naming_the_value(fake_encoder):
    with pytest.raises(ConfigurationError, match="dense_storage must be one of .*got 'int4'"):
        IndexOptions(dense_storage="int4")
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
    unit = dense / np.linalg.norm(dense, axis=1, keepdims=True)
    np.testing.assert_array_equal(as_stored(Embeddings(dense=unit), "float16", "uint8").dense, _uint8_rounded(unit))
    assert as_stored(Embeddings(dense=dense), "float16").dense is dense


@pytest.mark.parametrize("engine", ["edge", "remote"])
def test_layout_4_rotates_wide_vectors_and_scores_the_rounded_ones_on_both_engines(engine, tmp_path):
    """From 20 dimensions layout 4 rotates before rounding at a finer scale: the engine's dense and
    MaxSim scores are still those of the decoded vectors, and closer to float32 than layout 3's."""
    from tests.fakes import FakeEncoder

    encoder, corpus = FakeEncoder(dim=48, colbert_dim=32), make_corpus(200)
    assert codecs.scale(48, codec=4) > codecs.SCALE and codecs.scale(32, codec=4) > codecs.SCALE
    target = tmp_path / "u8" if engine == "edge" else QdrantClientBackend(QdrantClient(":memory:"), "u8")
    index = _build(target, encoder, corpus, dense_storage="uint8", colbert_storage="uint8")
    assert index.manifest.uint8_codec == 4 and index.manifest.colbert_stored_dim == 33
    _search_uint8_dense(index, encoder, corpus)
    rows = encoder.encode([d["text"] for d in corpus], parts="colbert").colbert
    queries = encoder.encode(QUERIES, role="query", parts="colbert").colbert
    for q, found in enumerate(Searcher(encoder, index).search(QUERIES, 5, mode="colbert", exact=True)):
        query = _uint8_rounded(queries[q])
        for h in found:
            expected = (query @ _uint8_rounded(rows[int(h.id.split("-")[1])]).T).max(axis=1).mean()
            assert h.score == pytest.approx(float(expected), abs=1e-4)
    exact = encoder.encode([d["text"] for d in corpus], parts="dense").dense
    for layout in (3, 4):
        rounded = codecs.decode_documents(codecs.encode_documents(exact, codec=layout), 48, codec=layout)
        error = float(np.abs(rounded @ exact[:20].T - exact @ exact[:20].T).mean())
        assert error < {3: 3e-3, 4: 1.5e-3}[layout]
    index.close()


def test_an_explanation_names_the_window_the_engine_scored_through_the_uint8_rounding(tmp_path):
    """Two windows whose dense scores differ by less than the rounding: the engine ranks them by
    the rounded vectors, and the explanation names the window that gave the engine's score."""
    from tests.fakes import FakeEncoder

    dim = 64
    encoder = FakeEncoder(dim=dim, parts=("dense",))
    identity = {**encoder.identity, "long": {"window_dense": "best"}}
    rng = np.random.default_rng(7)
    for _ in range(2000):  # a deterministic search for a pair whose order the rounding flips
        query = rng.normal(size=dim)
        query /= np.linalg.norm(query)
        windows = rng.normal(size=(2, dim))
        windows /= np.linalg.norm(windows, axis=1, keepdims=True)
        rounded_windows = _uint8_rounded(windows)
        rounded_query = codecs.decode_documents(codecs.encode_queries(query[None], codec=4), dim, codec=4)[0]
        if np.argmax(windows @ query) != np.argmax(rounded_windows @ rounded_query):
            break
    else:
        pytest.fail("no pair found")
    engine_window = int(np.argmax(rounded_windows @ rounded_query))
    docs = Embeddings(dense=_unit(windows.mean(axis=0))[None].astype(np.float32),
                      dense_windows=Ragged.from_arrays([windows.astype(np.float32)]))
    with Index.create(tmp_path / "u8", identity, options=IndexOptions(dense_storage="uint8")) as index:
        index.add(["doc"], docs)
        hit = Searcher(encoder, index).search_embeddings(Embeddings(dense=query[None].astype(np.float32)), 1,
                                                      mode="dense", exact=True, explain_texts=["q"])[0][0]
        assert hit.score == pytest.approx(float(rounded_windows[engine_window] @ rounded_query), abs=1e-4)
        assert hit.explanation.dense_window == engine_window and hit.explanation.dense_windows == 2


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_a_query_vector_longer_than_one_is_refused_by_a_uint8_index_not_clipped(tmp_path, fake_encoder):
    corpus = make_corpus(20)
    index = _build(tmp_path / "u8", fake_encoder, corpus, dense_storage="uint8", colbert_storage="uint8")
    queries = fake_encoder.encode(QUERIES[:1], role="query", parts="all")
    searcher = Searcher(fake_encoder, index)
    assert searcher.search_embeddings(queries, 3, mode="dense", fetch_documents=False)[0]  # unit vectors: searched
    longer = Embeddings(dense=queries.dense * 1.5)
    with pytest.raises(InputError, match="query 0: a dense vector of length 1.500"):
        searcher.search_embeddings(longer, 3, mode="dense", fetch_documents=False)
    rows = Embeddings(colbert=Ragged(queries.colbert.data * 2, queries.colbert.offsets))
    with pytest.raises(InputError, match="query 0: a colbert vector of length 2.000"):
        searcher.search_embeddings(rows, 3, mode="colbert", exact=True, fetch_documents=False)
    assert index.count() == 20
    index.close()
