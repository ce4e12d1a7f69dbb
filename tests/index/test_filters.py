"""The filter grammar: one table of filters and the documents they must match, run on both
backends (the embedded shard and qdrant-client's local mode), counted and searched; the CLI's
FIELD=VALUE syntax read into that grammar; everything outside it refused by name."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient

from m3search.errors import ConfigurationError
from m3search.index import Index, QdrantClientBackend
from m3search.index.filters import check_filter
from m3search.search import Searcher, parse_filters
from m3search.types import Embeddings

META = {
    "d1": {"lang": "de", "year": 2020, "code": "2020", "draft": True, "score": 0.5, "tags": ["a", "b"]},
    "d2": {"lang": "en", "year": 2021, "code": "007", "draft": False, "score": 1.5, "tags": ["b"]},
    "d3": {"lang": "zh", "year": 2005, "draft": False, "score": 2, "tags": []},
    "d4": {"lang": "de", "year": 1999, "code": "x", "score": -1.0},
}

TABLE = [
    ({"lang": "de"}, {"d1", "d4"}),
    ({"lang": ["de", "en"]}, {"d1", "d2", "d4"}),
    ({"year": 2020}, {"d1"}),
    ({"code": "2020"}, {"d1"}),
    ({"code": 2020}, set()),  # types are compared: the integer is not the string
    ({"draft": True}, {"d1"}),
    ({"draft": False}, {"d2", "d3"}),
    ({"draft": [True]}, {"d1"}),
    ({"score": 0.5}, {"d1"}),
    ({"score": 2}, {"d3"}),
    ({"score": 2.0}, {"d3"}),  # a float equals an integer field of that value
    ({"score": [0.5, 2]}, {"d1", "d3"}),
    ({"year": {"gte": 2000, "lt": 2021}}, {"d1", "d3"}),
    ({"score": {"gt": 0.5}}, {"d2", "d3"}),
    ({"score": {"lte": 0}}, {"d4"}),
    ({"tags": "b"}, {"d1", "d2"}),
    ({"tags": {"all": ["a", "b"]}}, {"d1"}),
    ({"lang": "de", "year": 2020}, {"d1"}),
    ({"year": [2005, 2021]}, {"d2", "d3"}),
    ({"lang": "xx"}, set()),
]


def _identity() -> dict:
    return {"name": "toy", "dim": 4, "parts": ["dense"], "weights": "toy"}


@pytest.fixture(params=["edge", "remote"])
def index(request, tmp_path):
    target = tmp_path / "idx" if request.param == "edge" else QdrantClientBackend(QdrantClient(":memory:"), "docs")
    index = Index.create(target, _identity())
    dense = np.eye(4, dtype=np.float32)
    index.add(list(META), Embeddings(dense=dense), texts=list(META), metadata=list(META.values()))
    yield index
    index.close()


@pytest.mark.parametrize(("filter", "expected"), TABLE, ids=[str(f) for f, _ in TABLE])
def test_each_filter_matches_the_same_documents_on_both_backends(index, filter, expected):
    assert index.count(filter) == len(expected)
    query = Embeddings(dense=np.full((1, 4), 0.5, np.float32))
    (hits,) = Searcher(None, index).search_embeddings(query, k=10, mode="dense", filter=filter)
    assert {h.id for h in hits} == expected


@pytest.mark.parametrize(("typed", "expected"), [
    (["lang=de"], {"lang": "de"}),
    (["lang=de,en"], {"lang": ["de", "en"]}),
    (['lang=["de","en"]'], {"lang": ["de", "en"]}),
    (["year=2020"], {"year": 2020}),
    (['code="2020"'], {"code": "2020"}),
    (["draft=true"], {"draft": True}),
    (["score=0.5"], {"score": 0.5}),
    (["year>=2000", "year<2021"], {"year": {"gte": 2000, "lt": 2021}}),
    (["score>0.5"], {"score": {"gt": 0.5}}),
    (["score<=0"], {"score": {"lte": 0}}),
    (["tags=a", "tags=b"], {"tags": {"all": ["a", "b"]}}),
    (["title=a=b"], {"title": "a=b"}),
    (["lang=de", "year=2020"], {"lang": "de", "year": 2020}),
])
def test_the_cli_syntax_reads_into_the_grammar(typed, expected, tmp_path):
    assert parse_filters(typed) == expected


def test_cli_filters_match_on_the_index_as_their_mappings_do(tmp_path):
    index = Index.create(tmp_path / "idx", _identity())
    index.add(list(META), Embeddings(dense=np.eye(4, dtype=np.float32)), metadata=list(META.values()))
    with index:
        assert index.count(parse_filters(['code="2020"'])) == 1
        assert index.count(parse_filters(["code=2020"])) == 0
        assert index.count(parse_filters(["year>=2000", "year<2021"])) == 2
        assert index.count(parse_filters(["lang=de", "draft=true"])) == 1


@pytest.mark.parametrize(("typed", "message"), [
    (["lang="], "'lang=' has an empty value"),
    (["lang"], "FIELD=VALUE"),
    (["=de"], "names no field"),
    (["year>=abc"], "a range needs a number after the operator, got 'abc'"),
    (["lang=de,,en"], "has an empty alternative"),
    (["x=null"], "filter on 'x': a condition is a string, number, boolean, list or range, got None"),
    (["x=[]"], "filter on 'x': an empty list would match nothing"),
])
def test_bad_cli_filters_are_refused_naming_the_value(typed, message):
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_filters(typed)


@pytest.mark.parametrize(("filter", "message"), [
    ({"x": None}, "got None"),
    ({"x": []}, "empty list"),
    ({"x": [["a"]]}, "a list inside a list"),
    ({"x": {"gte": "a"}}, "range bound gte must be a number, got 'a'"),
    ({"x": {"gte": True}}, "range bound gte must be a number, got True"),
    ({"x": {"near": 1}}, "a mapping is a range with keys"),
    ({"x": float("nan")}, "nan is not a finite number"),
    ({"x": {"all": []}}, "'all' takes a non-empty list"),
    ({"": "a"}, "filter field names must be non-empty strings"),
])
def test_filters_outside_the_grammar_are_typed_errors(filter, message, tmp_path):
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[")):
        check_filter(filter)
    index = Index.create(tmp_path / "idx", _identity())
    with index, pytest.raises(ConfigurationError, match=message.replace("[", r"\[")):
        index.count(filter)
