"""Metric values computed by hand on tiny inline runs."""

from __future__ import annotations

import math

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
    assert mono.table().splitlines()[1:] == ["mode" + " " * 10 + "    de    zh   avg",
                                             "dense" + " " * 9 + " 0.500 1.000 0.750"]
    pairs = {f"{x}-{y}": {"nDCG@10": 1.0 if x == y else 0.5} for x in ("de", "zh") for y in ("de", "zh")}
    cross = SuiteResult("c", "m", ("nDCG@10",), {"dense": pairs}).table().splitlines()
    assert cross[2].split() == ["de", "1.000", "0.500", "0.750"]
    assert cross[-1].split() == ["all", "0.750"]
