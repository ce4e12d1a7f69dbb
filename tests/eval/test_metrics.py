"""Metric values computed by hand on tiny inline runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from m3search.errors import ConfigurationError
from m3search.eval.metrics import evaluate, measure_name, paired_randomization

QRELS = {"q1": {"d2": 1}, "q2": {"d3": 1}, "q3": {"d9": 1}, "q4": {"a": 1, "c": 1}}
RUN = {
    "q1": {"d1": 0.9, "d2": 0.5, "d4": 0.1},   # relevant at rank 2
    "q2": {"d3": 2.0, "d1": 1.0},              # relevant at rank 1
    # q3 missing from the run: scores 0
    "q4": {"a": 3.0, "b": 2.0, "c": 1.0},      # relevant at ranks 1 and 3
    "q5": {"x": 1.0},                          # not judged: ignored
}


def test_reciprocal_rank():
    r = evaluate(RUN, QRELS, ["MRR@10"])
    assert r.per_query["MRR@10"] == {"q1": 0.5, "q2": 1.0, "q3": 0.0, "q4": 1.0}
    assert r.aggregate["MRR@10"] == pytest.approx(2.5 / 4)


def test_ndcg():
    r = evaluate(RUN, QRELS, ["nDCG@10"])
    q4 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert r.per_query["nDCG@10"]["q1"] == pytest.approx(1 / math.log2(3))
    assert r.per_query["nDCG@10"]["q4"] == pytest.approx(q4)
    assert r.aggregate["nDCG@10"] == pytest.approx((1 / math.log2(3) + 1 + 0 + q4) / 4)


def test_recall_and_average_precision_with_cutoffs():
    r = evaluate(RUN, QRELS, ["Recall@2", "mAP@20", "nDCG@1"])
    assert r.per_query["Recall@2"]["q4"] == 0.5
    assert r.per_query["mAP@20"]["q4"] == pytest.approx((1 + 2 / 3) / 2)
    assert r.per_query["nDCG@1"]["q1"] == 0.0


def test_groups_and_names():
    r = evaluate(RUN, QRELS, ["MRR@10"])
    assert r.by_group({"q1": "de", "q2": "de", "q3": "zh"}) == {"de": {"MRR@10": 0.75}, "zh": {"MRR@10": 0.0}}
    assert measure_name("Recall@100") == "R@100"
    with pytest.raises(ConfigurationError, match="metric name"):
        evaluate(RUN, QRELS, ["nDCG at 10"])


def test_paired_randomization_detects_a_consistent_gain():
    a = {f"q{i}": 1.0 for i in range(20)}
    b = {f"q{i}": 0.0 for i in range(20)}
    diff, p = paired_randomization(a, b)
    assert diff == 1.0 and p < 0.001
    assert paired_randomization(a, a)[1] == 1.0


def test_suite_tables_by_language_and_as_a_cross_lingual_matrix():
    from m3search.eval.report import SuiteResult

    mono = SuiteResult("s", "m", ("nDCG@10",), {"dense": {"de": {"nDCG@10": 0.5}, "zh": {"nDCG@10": 1.0}}})
    assert mono.table().splitlines()[1:] == ["mode" + " " * 10 + "     de     zh    avg",
                                             "dense" + " " * 9 + "  0.500  1.000  0.750"]
    pairs = {f"{x}-{y}": {"nDCG@10": 1.0 if x == y else 0.5} for x in ("de", "zh") for y in ("de", "zh")}
    cross = SuiteResult("c", "m", ("nDCG@10",), {"dense": pairs}).table().splitlines()
    assert cross[2].split() == ["de", "1.000", "0.500", "0.750"]
    assert cross[-1].split() == ["all", "0.750"]


def test_tables_mark_rows_significantly_below_the_best_and_json_keeps_the_p_values():
    from m3search.eval.report import SuiteResult

    rng = np.random.default_rng(0)
    good = {f"de/q{i}": float(v) for i, v in enumerate(rng.uniform(0.6, 1.0, 40))}
    noise = rng.normal(0, 0.1, 40)
    noise -= noise.mean()  # 0.02 below on average, but noisy: not significant
    close = {k: v - 0.02 + noise[i] for i, (k, v) in enumerate(good.items())}
    bad = {k: v - 0.4 for k, v in good.items()}  # far below on every query: significant
    result = SuiteResult("s", "m", ("nDCG@10",), per_query={
        "all": {"nDCG@10": good}, "dense": {"nDCG@10": close}, "sparse": {"nDCG@10": bad}})
    result.scores = {row: {"de": {"nDCG@10": float(np.mean(list(v["nDCG@10"].values())))}}
                     for row, v in result.per_query.items()}
    lines = result.table().splitlines()
    assert lines[2].split()[1].endswith("*") and lines[3].split()[1][-1].isdigit() and lines[4].split()[1].endswith("†")
    assert "paired randomisation p < 0.05" in lines[-1]
    p = result.to_json()["p_vs_best"]["nDCG@10"]
    assert p["avg"]["all"] == 1.0 and p["avg"]["dense"] > 0.05 and p["de"]["sparse"] < 0.001
    again = SuiteResult.from_json(result.to_json())
    assert again.scores == result.scores and again.table().splitlines()[2].split()[1] == lines[2].split()[1][:-1]
