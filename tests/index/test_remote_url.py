"""An index on a Qdrant server, named by URL, from the CLI and Python: tested against
qdrant-client's local mode standing in for the server; the cluster settings local mode ignores
are checked on the requests the client is asked to send."""

from __future__ import annotations

import json

import pytest
from qdrant_client import QdrantClient

from m3search.cli import main
from m3search.errors import ConfigurationError
from m3search.index import Index
from m3search.index.backends import remote
from m3search.io.jsonl import write_jsonl

URL = "http://qdrant.example:6333/docs"
DOCS = [
    {"id": "de-1", "text": "Der Rhein fließt durch Köln.", "lang": "de"},
    {"id": "en-1", "text": "The Thames flows through London.", "lang": "en"},
    {"id": "en-2", "text": "Mount Everest is the highest mountain.", "lang": "en"},
]


class RecordingClient:
    """Local mode in a directory, recording the collection and payload-index requests."""

    def __init__(self, path, requests):
        self.inner = QdrantClient(path=str(path))
        self.requests = requests

    def create_collection(self, *args, **kwargs):
        self.requests.append(("create_collection", kwargs))
        return self.inner.create_collection(*args, **kwargs)

    def create_payload_index(self, *args, **kwargs):
        self.requests.append(("create_payload_index", kwargs))
        return self.inner.create_payload_index(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """``remote.connect`` answers every URL with local mode in one directory."""
    requests: list = []
    seen: list = []

    def connect(url, api_key):
        seen.append((url, api_key))
        return RecordingClient(tmp_path / "qdrant-local", requests)

    monkeypatch.setattr(remote, "connect", connect)
    monkeypatch.setenv("QDRANT_API_KEY", "secret")
    return requests, seen


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant")
def test_the_cli_indexes_into_and_searches_a_collection_by_url(server, tiny_m3_path, tmp_path, capsys):
    requests, seen = server
    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, DOCS)
    model = ["--model", str(tiny_m3_path), "-q"]
    assert main(["index", str(corpus), "--index", URL, *model, "--shards", "3", "--replicas", "2",
                 "--write-consistency", "2", "--on-disk", "--payload-index", "lang:keyword"]) == 0
    assert main(["index", str(corpus), "--index", str(tmp_path / "embedded"), *model]) == 0
    assert seen[0] == ("http://qdrant.example:6333", "secret")  # the key comes from the environment
    (create,) = [kw for name, kw in requests if name == "create_collection"]
    assert (create["shard_number"], create["replication_factor"], create["write_consistency_factor"]) == (3, 2, 2)
    assert create["on_disk_payload"] is True
    assert create["vectors_config"]["dense"].on_disk and create["vectors_config"]["colbert"].on_disk
    assert create["sparse_vectors_config"]["sparse"].index.on_disk
    assert [(kw["field_name"], kw["field_schema"]) for name, kw in requests if name == "create_payload_index"] == [
        ("meta.lang", "keyword")]
    capsys.readouterr()
    results = {}
    for target in (URL, str(tmp_path / "embedded")):
        assert main(["search", "--index", target, "Köln", "Everest", "--json", "-k", "3", "--filter", "lang=en"]) == 0
        results[target] = [[(h["id"], h["score"]) for h in r["hits"]] for r in json.loads(capsys.readouterr().out)]
    for remote_row, embedded_row in zip(results[URL], results[str(tmp_path / "embedded")]):
        assert [d for d, _ in remote_row] == [d for d, _ in embedded_row]
        assert [s for _, s in remote_row] == pytest.approx([s for _, s in embedded_row], abs=1e-3)  # float16 rows
    assert {doc_id for row in results[URL] for doc_id, _ in row} == {"en-1", "en-2"}
    with Index.open(URL) as index:
        assert index.count() == 3 and index.count({"lang": "de"}) == 1


def test_bad_urls_and_misplaced_cluster_settings_are_one_line_errors(server, tiny_m3_path, tmp_path, capsys):
    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, DOCS)
    with pytest.raises(ConfigurationError, match="is not http"):
        Index.open("http://qdrant.example:6333/")
    assert main(["index", str(corpus), "--index", str(tmp_path / "dir"), "--model", str(tiny_m3_path), "-q",
                 "--shards", "2"]) == 2
    assert "lay out a collection on a Qdrant server" in capsys.readouterr().err
    assert main(["index", str(corpus), "--index", URL, "--model", str(tiny_m3_path), "-q",
                 "--payload-index", "lang:colour"]) == 2
    assert "type must be one of" in capsys.readouterr().err
    assert main(["search", "--index", "http://qdrant.example:6333/missing", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("storage", ["float16", "uint8"])
def test_export_to_a_server_and_import_back_round_trips_everything(server, tiny_m3_path, tmp_path, capsys, storage):
    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, DOCS)
    home, back = str(tmp_path / "home"), str(tmp_path / "back")
    assert main(["index", str(corpus), "--index", home, "--model", str(tiny_m3_path), "-q", "--colbert-storage", storage]) == 0
    assert main(["index", "export", "--index", home, "--to", URL, "-q", "--shards", "2"]) == 0
    assert main(["index", "import", "--from", URL, "--index", back, "-q"]) == 0
    assert "3 documents copied" in capsys.readouterr().err
    requests, _ = server
    assert [kw["shard_number"] for name, kw in requests if name == "create_collection"] == [2]
    ids = [d["id"] for d in DOCS]
    with Index.open(home) as a, Index.open(URL) as b, Index.open(back) as c:
        assert a.manifest == b.manifest == c.manifest
        for copy in (b, c):
            for x, y in zip(a.get(ids, with_vectors=True), copy.get(ids, with_vectors=True)):
                assert (x.id, x.text, x.metadata) == (y.id, y.text, y.metadata)
                assert (x.dense == y.dense).all() and (x.colbert == y.colbert).all()  # stored values, bit for bit
                assert x.sparse.to_dict() == pytest.approx(y.sparse.to_dict(), abs=1e-7)
    assert main(["index", "import", "--from", URL, "--index", back, "-q"]) == 2  # never over an existing index
    assert "already exists" in capsys.readouterr().err
