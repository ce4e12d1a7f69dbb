"""The engine's HNSW graph settings as index settings: recorded in the manifest, laid out by both
engines on the searched vectors only, kept by an existing index, and bad values refused."""

from __future__ import annotations

import json

import pytest
from qdrant_client import QdrantClient

from m3search.errors import ConfigurationError
from m3search.index import Index, IndexOptions
from m3search.index.backends.remote import QdrantClientBackend
from m3search.search import Searcher
from tests.corpora import make_corpus
from tests.search.test_searcher import QUERIES

FDE = {"k_sim": 3, "dim_proj": 4, "reps": 4}


def test_graph_settings_reach_the_searched_vectors_and_the_manifest(tmp_path, fake_encoder):
    corpus = make_corpus(120)
    index = Index.create(tmp_path / "idx", fake_encoder.identity,
                         options=IndexOptions(hnsw={"m": 32, "ef_construct": 200}, fde=FDE))
    index.add([d["id"] for d in corpus], fake_encoder.encode([d["text"] for d in corpus], parts="all"))
    index.optimize()
    config = json.loads((tmp_path / "idx" / "shard" / "edge_config.json").read_text())["vectors"]
    for name in ("dense", "colbert_fde"):
        assert config[name]["hnsw_config"]["m"] == 32 and config[name]["hnsw_config"]["ef_construct"] == 200
    assert config["colbert"]["hnsw_config"]["m"] == 0  # rescoring only: still no graph
    assert index.manifest.hnsw == (32, 200) and index.manifest.extra["hnsw"] == {"m": 32, "ef_construct": 200}
    queries = fake_encoder.encode(QUERIES, role="query", parts="all")
    exact = Searcher(fake_encoder, index).search_embeddings(queries, 5, mode="dense", exact=True, fetch_documents=False)
    found = Searcher(fake_encoder, index).search_embeddings(queries, 5, mode="dense", fetch_documents=False)
    assert [[h.id for h in f] for f in found] == [[h.id for h in e] for e in exact]
    index.close()
    reopened = Index.open(tmp_path / "idx")
    assert reopened.manifest.hnsw == (32, 200)
    reopened.close()
    with pytest.raises(ConfigurationError, match=r"has the HNSW graphs \{'m': 32, 'ef_construct': 200\}, not"):
        Index.open_or_create(tmp_path / "idx", fake_encoder.identity, options=IndexOptions(hnsw={"m": 16}))


def test_a_server_collection_gets_the_graph_settings(fake_encoder):
    client = QdrantClient(":memory:")
    index = Index.create(QdrantClientBackend(client, "docs"), fake_encoder.identity,
                         options=IndexOptions(hnsw={"m": 24, "ef_construct": 300}))
    vectors = client.get_collection("docs").config.params.vectors
    assert vectors["dense"].hnsw_config.m == 24 and vectors["dense"].hnsw_config.ef_construct == 300
    assert vectors["colbert"].hnsw_config.m == 0
    index.close()


@pytest.mark.parametrize(("settings", "message"), [
    ({"m": 2}, r"HNSW m must be an integer in \[4, 128\], got 2"),
    ({"ef_construct": 10_000}, r"HNSW ef_construct must be an integer in \[8, 4096\], got 10000"),
    ({"m": "32"}, r"got '32'"),
    ({"ef": 100}, r"unknown HNSW setting\(s\) \['ef'\]"),
])
def test_bad_graph_settings_are_refused_naming_the_value(settings, message):
    with pytest.raises(ConfigurationError, match=message):
        IndexOptions(hnsw=settings)
