"""m3search eval end to end on one XQuAD language, with the tiny model and BM25."""

from __future__ import annotations

import json

import pytest

from m3search.cli import main
from tests.shared_data import DATA, needs_data


@needs_data
@pytest.mark.slow
def test_eval_prints_a_mode_by_language_table_and_caches_encodings(tiny_m3_path, tmp_path, capsys):
    out = tmp_path / "result.json"
    common = ["--model", str(tiny_m3_path), "--subsets", "de", "--data", str(DATA), "--cache", str(tmp_path / "cache"),
              "-o", str(out)]
    argv = ["eval", "--suite", "xquad-mono", "--modes", "dense,all", "--baseline", "bm25", *common]
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["mode", "de", "avg"]
    assert [line.split()[0] for line in table[2:]] == ["dense", "all", "bm25"]
    result = json.loads(out.read_text())
    assert set(result["scores"]["bm25"]["de"]) == {"nDCG@10", "Recall@100", "MRR@10"}
    assert result["averages"]["bm25"]["nDCG@10"] > 0.5  # lexical matching works on same-language QA
    cached = sorted(p.name for p in (tmp_path / "cache" / "embeddings").iterdir())
    assert len(cached) == 2  # corpus and queries
    assert main(["eval", "--suite", "xquad-mono", "--modes", "dense", *common]) == 0  # reads the cache
    assert sorted(p.name for p in (tmp_path / "cache" / "embeddings").iterdir()) == cached
