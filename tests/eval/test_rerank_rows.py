"""Cross-encoder rows in an evaluation: one row per depth over a mode's run, tested against
their first stage, from Python and from ``m3search eval --rerank``."""

from __future__ import annotations

import json

import pytest

from m3search import CrossEncoder
from m3search.errors import ConfigurationError
from m3search.eval.runner import Rerank, run_beir
from m3search.search.rerank_stage import rerank_run

from .eval_fixtures import QUERIES, write_tiny_beir


@pytest.fixture(scope="module")
def reranker(fixtures_dir):
    return CrossEncoder.load(fixtures_dir / "tiny-reranker", device="cpu")


def test_rerank_rows_rescore_the_first_stage_per_depth(tmp_path, fake_encoder, reranker):
    beir = write_tiny_beir(tmp_path / "tiny")
    result = run_beir([beir], fake_encoder, cache=tmp_path / "cache", modes=["dense", "all"],
                      rerank=Rerank(reranker, depths=(2, 8)))
    assert list(result.scores) == ["dense", "all", "all+rerank@2", "all+rerank@8"]
    assert result.first_stages == {"all+rerank@2": "all", "all+rerank@8": "all"}
    tests = result.to_json()["p_vs_first_stage"]["nDCG@10"]
    assert set(tests) == {"all+rerank@2", "all+rerank@8"} and all(0 < t["p"] <= 1 for t in tests.values())
    # the row is the cross-encoder's order of the first stage's documents: recomputed here
    from m3search.eval.beir import read_beir

    data = read_beir(beir)
    texts = {d.id: d.text for d in data.corpus}
    queries = {q.id: q.text for q in data.queries}
    scores = reranker.score([(queries["q1"], texts[d]) for d in texts])
    ranked = sorted(zip(scores, texts), key=lambda x: -x[0])
    one = rerank_run(reranker, {"q1": queries["q1"]}, {"q1": {d: 1.0 - i / 10 for i, d in enumerate(texts)}}, texts,
                     depth=8)
    assert list(one["q1"]) == [d for _, d in ranked]
    assert "all+rerank@8 against all:" in result.table()


def test_bad_rerank_options_are_refused(tmp_path, fake_encoder, reranker):
    beir = write_tiny_beir(tmp_path / "tiny")
    with pytest.raises(ConfigurationError, match="cannot rerank 'colbert'"):
        run_beir([beir], fake_encoder, cache=tmp_path / "c", modes=["dense"], rerank=Rerank(reranker, of="colbert"))
    with pytest.raises(ConfigurationError, match="rerank_depth must be an integer >= 1, got 0"):
        run_beir([beir], fake_encoder, cache=tmp_path / "c", modes=["dense"], rerank=Rerank(reranker, depths=(0,)))


def test_the_cli_adds_rerank_rows(tiny_m3_path, tmp_path, capsys):
    from m3search.cli import main

    beir = write_tiny_beir(tmp_path / "tiny")
    out = tmp_path / "r.json"
    reranker = str(tiny_m3_path.parent / "tiny-reranker")
    assert main(["eval", "--beir", str(beir), "--model", str(tiny_m3_path), "--modes", "dense", "--rerank", reranker,
                 "--rerank-depths", "3,6", "-o", str(out), "--cache", str(tmp_path / "cache")]) == 0
    saved = json.loads(out.read_text())
    assert set(saved["scores"]) == {"dense", "dense+rerank@3", "dense+rerank@6"}
    assert set(saved["p_vs_first_stage"]["nDCG@10"]) == {"dense+rerank@3", "dense+rerank@6"}
    assert len(QUERIES) == 6
    assert main(["eval", "--beir", str(beir), "--model", str(tiny_m3_path), "--rerank", reranker,
                 "--rerank-depths", "ten"]) == 2
    assert "--rerank-depths takes whole numbers" in capsys.readouterr().err
