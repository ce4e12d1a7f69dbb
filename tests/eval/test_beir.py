from __future__ import annotations

import pytest

from m3search.errors import InputError
from m3search.eval.beir import read_beir, write_beir
from m3search.eval.trec import read_trec_run, write_trec_run
from m3search.io.jsonl import Record


def test_beir_round_trip(tmp_path):
    corpus = [Record("d1", "Der Everest.", {"title": "Berg", "lang": "de"}), Record("d2", "珠峰", {"lang": "zh"})]
    queries = [Record("q1", "Wie hoch?", {"lang": "de"})]
    write_beir(tmp_path / "b", corpus, queries, {"q1": {"d1": 1, "d2": 0}})
    data = read_beir(tmp_path / "b")
    assert data.corpus[0] == Record("d1", "Der Everest.", {"title": "Berg", "lang": "de"})
    assert data.corpus[1].metadata == {"title": "", "lang": "zh"}
    assert data.queries == queries and data.qrels == {"q1": {"d1": 1, "d2": 0}}
    with pytest.raises(InputError, match="qrels/dev.tsv is missing"):
        read_beir(tmp_path / "b", split="dev")


def test_trec_run_round_trip(tmp_path):
    run = {"q1": {"d1": 0.5, "d2": 1.5}, "q2": {"d3": 0.25}}
    write_trec_run(tmp_path / "run.trec", run, tag="test")
    lines = (tmp_path / "run.trec").read_text().splitlines()
    assert lines[0] == "q1 Q0 d2 1 1.500000 test" and lines[1] == "q1 Q0 d1 2 0.500000 test"
    assert read_trec_run(tmp_path / "run.trec") == run
    (tmp_path / "bad.trec").write_text("q1 d1 1\n")
    with pytest.raises(InputError, match="bad.trec:1: a TREC run line has 6 fields"):
        read_trec_run(tmp_path / "bad.trec")
