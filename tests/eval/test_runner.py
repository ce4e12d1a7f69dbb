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
    argv = ["eval", "--suite", "xquad-mono", "--modes", "dense,all", "--baseline", "all", *common]
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["mode", "de", "avg"]
    assert [line.split()[0] for line in table[2:-1]] == ["dense", "all", "bm25", "bm25-tokens", "rrf-dense-bm25"]
    assert table[-1] == "(* best row; † below it, paired randomisation p < 0.05)"
    assert sum(line.split()[1].endswith("*") for line in table[2:-1]) == 1
    result = json.loads(out.read_text())
    assert result["command"] == "m3search " + " ".join(argv) and len(result["date"]) == 10
    assert set(result["scores"]["bm25"]["de"]) == {"nDCG@10", "Recall@100", "MRR@10"}
    assert result["averages"]["bm25"]["nDCG@10"] > 0.5  # lexical matching works on same-language QA
    cached = sorted(p.name for p in (tmp_path / "cache" / "embeddings").iterdir())
    assert len(cached) == 2  # corpus and queries
    assert main(["eval", "--suite", "xquad-mono", "--modes", "dense", *common]) == 0  # reads the cache
    assert sorted(p.name for p in (tmp_path / "cache" / "embeddings").iterdir()) == cached


def test_rrf_runs_fuses_rankings_query_by_query():
    from m3search.eval.runner import rrf_runs
    from m3search.search import reciprocal_rank_fusion

    a = {"q1": {"d1": 0.9, "d2": 0.5, "d3": 0.1}, "q2": {"d4": 1.0}}
    b = {"q1": {"d3": 7.0, "d1": 2.0}}
    fused = rrf_runs([a, b], depth=2)
    expected = reciprocal_rank_fusion([["d1", "d2", "d3"], ["d3", "d1"]])
    assert fused["q1"] == dict(sorted(expected.items(), key=lambda x: -x[1])[:2])
    assert fused["q2"] == {"d4": 1 / 61}


def test_embedding_cache_is_kept_per_backend(tmp_path, fake_encoder):
    """An evaluation of another backend measures that backend, even with the same identity."""
    from m3search.eval.runner import cached_encode

    class OtherBackend:
        parts = fake_encoder.parts

        def __init__(self):
            self.identity = {**fake_encoder.identity, "backend": "openvino-bf16"}
            self.calls = 0

        def encode(self, *args, **kwargs):
            self.calls += 1
            return fake_encoder.encode(*args, **kwargs)

    texts, ids = ["river delta", "mountain"], ["a", "b"]
    cached_encode(fake_encoder, texts, "document", ("dense",), tmp_path, "key", ids)
    other = OtherBackend()
    cached_encode(other, texts, "document", ("dense",), tmp_path, "key", ids)
    cached_encode(other, texts, "document", ("dense",), tmp_path, "key", ids)
    assert other.calls == 1  # encoded once for itself, then read from its own entry
    assert len(list((tmp_path / "embeddings").iterdir())) == 2
    from m3search.encode.backends import onnx_files

    with pytest.MonkeyPatch.context() as patch:  # a new export version of the graphs: encoded again
        patch.setattr("m3search.eval.runner.EXPORT_VERSION", onnx_files.EXPORT_VERSION + 1)
        cached_encode(other, texts, "document", ("dense",), tmp_path, "key", ids)
    assert other.calls == 2 and len(list((tmp_path / "embeddings").iterdir())) == 3
