"""Metadata and filters that would poison an index or reach the engine's parser: refused before
anything is written, on every path (Python, CLI, HTTP), and the index keeps filtering, searching
and exporting afterwards."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from m3search.cli import main
from m3search.errors import ConfigurationError, InvalidDocumentError
from m3search.index import Index
from m3search.search import Searcher
from m3search.serve import create_app
from tests.corpora import build_index, make_corpus


def _nested(depth: int) -> dict:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value  # type: ignore[return-value]


# (metadata, the message's text)
BAD_METADATA = [
    (_nested(40), "nests deeper than 32 levels"),
    ({"n": 2**70}, "integer at n is outside 64 bits"),
    ({"n": -(2**63) - 1}, "outside 64 bits"),
    ({"tag": "bad \ud800"}, "string at tag holds a lone surrogate"),
    ({"k\udc00": 1}, "metadata key 'k\\udc00' is not a UTF-8 string"),
    ({"blob": "x" * 70_000}, "the limit is 65536"),
    ({"when": object()}, "metadata is not plain JSON (when: object)"),
]
BAD_FILTERS = [
    ({"a b": "x"}, "filter field name 'a b'"),
    ({"lang,de": "x"}, "filter field name 'lang,de'"),
    ({"n": 2**64}, "outside 64-bit integers"),
    ({"lang": "\ud800"}, "lone surrogate"),
]


@pytest.fixture
def index(tmp_path, fake_encoder):
    idx = build_index(tmp_path / "idx", fake_encoder, make_corpus(20))
    yield idx
    idx.close()


def _still_whole(index, fake_encoder, tmp_path) -> None:
    assert index.count() == 20
    assert index.count({"lang": "de"}) > 0
    hits = Searcher(fake_encoder, index).search(["river delta"], k=3, filter={"lang": ["de", "en"]})[0]
    assert hits and all(h.metadata["lang"] in ("de", "en") for h in hits)
    from m3search.index.transfer import copy_index

    with copy_index(index, tmp_path / "copy") as copy:
        assert copy.count() == 20


@pytest.mark.parametrize(("metadata", "message"), BAD_METADATA, ids=[m for _, m in BAD_METADATA])
def test_python_refuses_metadata_the_engine_cannot_read_back(index, fake_encoder, tmp_path, metadata, message):
    e = fake_encoder.encode(["hostile river"], parts="all")
    with pytest.raises(InvalidDocumentError, match="document 'hostile'") as raised:
        index.add(["hostile"], e, texts=["hostile river"], metadata=[metadata])
    assert message in str(raised.value)
    _still_whole(index, fake_encoder, tmp_path)


@pytest.mark.parametrize(("filter", "message"), BAD_FILTERS, ids=[m for _, m in BAD_FILTERS])
def test_filters_the_engine_cannot_parse_are_refused(index, fake_encoder, filter, message):
    with pytest.raises(ConfigurationError, match="filter") as raised:
        Searcher(fake_encoder, index).search(["river"], k=3, filter=filter)
    assert message in str(raised.value)


def test_the_server_answers_400_and_keeps_the_index(index, fake_encoder, tmp_path):
    client = TestClient(create_app(fake_encoder, index))
    for metadata, message in BAD_METADATA[:-1]:  # the last is not JSON at all
        body = json.dumps({"documents": [{"id": "hostile", "text": "river", "metadata": metadata}]})
        response = client.post("/v1/documents", content=body.encode("utf-8", "surrogatepass"),
                               headers={"content-type": "application/json"})
        assert response.status_code in (400, 422), (message, response.text)
        assert "error" in response.json()
    deep = '{"documents": [{"id": "x", "text": "river", "metadata": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}]}"
    assert client.post("/v1/documents", content=deep, headers={"content-type": "application/json"}).status_code == 400
    for filter, message in BAD_FILTERS:
        body = json.dumps({"query": "river", "filter": filter})
        response = client.post("/v1/search", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400 and message in response.json()["error"]["message"], response.text
    _still_whole(index, fake_encoder, tmp_path)


def test_the_cli_is_one_line_and_exit_2(tmp_path, tiny_m3_path, capsys):
    from m3search.io.jsonl import write_jsonl

    good = tmp_path / "good.jsonl"
    write_jsonl(good, [{"id": "d1", "text": "Der Nil ist ein Fluss.", "lang": "de"}])
    assert main(["index", str(good), "--index", str(tmp_path / "idx"), "--model", str(tiny_m3_path), "-q"]) == 0
    capsys.readouterr()
    files = {"deep": json.dumps({"id": "x", "text": "t", "m": _nested(40)}),
             "deeper": '{"id": "x", "text": "t", "m": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}",
             "big-int": '{"id": "x", "text": "t", "n": 123456789012345678901234}'}
    expected = {"deep": "nests deeper than 32 levels", "deeper": "JSON nested too deeply to read",
                "big-int": "outside 64 bits"}
    for name, line in files.items():
        (tmp_path / f"{name}.jsonl").write_text(line + "\n")
        assert main(["index", str(tmp_path / f"{name}.jsonl"), "--index", str(tmp_path / "idx"), "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected[name] in err[0], err
    assert main(["search", "--index", str(tmp_path / "idx"), "Nil", "--filter", "a b=x"]) == 2
    assert "filter field name 'a b'" in capsys.readouterr().err
    with Index.open(tmp_path / "idx") as index:
        assert index.count() == 1


def test_a_filter_on_a_field_no_document_has_says_so(index, fake_encoder):
    with pytest.raises(ConfigurationError, match=r"no document of this index has the metadata field 'langs' \(the fields it has: lang\)"):
        Searcher(fake_encoder, index).search(["river"], k=3, filter={"langs": "de"})
    with pytest.raises(ConfigurationError, match="metadata field 'year'"):
        index.count({"year": {"gte": 2000}})
    e = fake_encoder.encode(["river delta"], parts="all")
    index.add(["dated"], e, texts=["river delta"], metadata=[{"lang": "de", "year": 2001}])
    assert index.count({"year": {"gte": 2000}}) == 1  # a field added later is known from then on


def test_both_engines_say_so(fake_encoder):
    from qdrant_client import QdrantClient

    from m3search.index.backends.remote import QdrantClientBackend

    index = build_index(QdrantClientBackend(QdrantClient(":memory:"), "docs"), fake_encoder, make_corpus(5))
    with pytest.raises(ConfigurationError, match="metadata field 'missing'"):
        index.count({"missing": "x"})
    index.close()
