"""``m3search eval`` output pinned for every row kind on small BEIR directories, with the tiny model.

Every engine mode, the exact ``colbert`` row, both BM25 rows and the fused ``rrf-dense-bm25``
row, on a qrels-judged directory (grouped by ``lang``), an answer-string directory (MKQA
style) and a directory grouped by answer ``position``. ``goldens/eval-rows.json`` holds the
tables printed and the JSON written for these inputs: a difference is a change of the output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m3search.cli import main
from tests.eval.eval_fixtures import write_answer_beir, write_position_beir, write_tiny_beir

GOLDENS = Path(__file__).parent / "goldens" / "eval-rows.json"
ALL_MODES = "dense,sparse,colbert,dense+sparse,all,rrf"
TINY_M3 = Path(__file__).parents[1] / "fixtures" / "tiny-m3"


def _portable(value: str) -> str:
    """The tiny model named by its path in the repository, as the goldens name it."""
    return value.replace(str(TINY_M3), "tests/fixtures/tiny-m3")


#: The tiny random model's dense vectors are nearly parallel (cosines within 1e-5 of each other), so
#: their ranking turns on the last bits of float32 arithmetic, which differ between CPUs and
#: library builds: the metrics of the rows that rank by dense scores (dense, and the fusions of its
#: ranks) are checked to be there and within 0.5 (one query's rank may move), every other value exactly.
NOISY_ROWS = ("dense", "rrf", "rrf-dense-bm25")
NOISE_LEVEL = tuple(f"/{row}/" for row in NOISY_ROWS)
NOISE = 0.5


def _assert_same(actual: object, expected: object, where: str = "") -> None:
    """Equal JSON, keys in the same order, floats to 1e-9 (relative; the noisy rows' to :data:`NOISE`)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), where
        for key, value in expected.items():
            _assert_same(actual[key], value, f"{where}/{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_same(a, e, f"{where}/{i}")
    elif isinstance(expected, float):
        noisy = any(part in where + "/" for part in NOISE_LEVEL)
        tolerance = (1.0 if "/p_vs_best/" in where else NOISE) if noisy else 1e-12  # a p-value: any
        assert actual == pytest.approx(expected, rel=1e-9, abs=tolerance), where
    else:
        assert actual == expected, where


def _assert_same_table(actual: str, expected: str) -> None:
    """The same printed table; the noisy rows' numbers to :data:`NOISE`."""
    actual_lines, expected_lines = actual.splitlines(), expected.splitlines()
    assert len(actual_lines) == len(expected_lines)
    for got, want in zip(actual_lines, expected_lines):
        if got.split()[:1] and got.split()[0] in NOISY_ROWS:
            assert got.split()[0] == want.split()[0]
            numbers = [(float(a.rstrip("*")), float(b.rstrip("*"))) for a, b in zip(got.split()[1:], want.split()[1:])]
            assert all(abs(a - b) <= NOISE for a, b in numbers), (got, want)
        else:
            assert got == want


def _eval(argv: list[str], out: Path, capsys) -> tuple[str, dict]:
    capsys.readouterr()
    assert main([*argv, "-o", str(out)]) == 0
    result = json.loads(_portable(out.read_text()))
    # the run's own stamp is not part of the goldens
    assert result.pop("command").startswith("m3search ") and len(result.pop("date")) == 10
    return _portable(capsys.readouterr().out), result


@pytest.fixture(scope="module")
def goldens() -> dict:
    return json.loads(GOLDENS.read_text())


@pytest.fixture
def common(tmp_path) -> list[str]:
    return ["--model", str(TINY_M3), "--cache", str(tmp_path / "cache")]


def test_every_row_kind_on_a_qrels_directory(tmp_path, common, capsys, goldens):
    directory = write_tiny_beir(tmp_path / "tiny")
    table, result = _eval(["eval", "--beir", str(directory), "--modes", ALL_MODES, "--baseline", "all", *common],
                          tmp_path / "out.json", capsys)
    assert [line for line in table.splitlines()[2:11] if line.split()[0] not in NOISY_ROWS] == [
        "sparse         0.938  0.938 ",
        "colbert        0.658  0.658 ",
        "dense+sparse   0.938  0.938 ",
        "all            0.938  0.938 ",
        "bm25           1.000* 1.000*",
        "bm25-tokens    1.000  1.000 ",
    ]
    _assert_same_table(table, goldens["qrels"]["table"])
    _assert_same(result, goldens["qrels"]["json"])


def test_answer_string_rows(tmp_path, common, capsys, goldens):
    directory = write_answer_beir(tmp_path / "answers")
    table, result = _eval(["eval", "--beir", str(directory), "--metrics", "AnswerRecall@1,AnswerRecall@3",
                           "--modes", "dense,sparse,colbert,all", "--baseline", "bm25,rrf-dense-bm25", *common],
                          tmp_path / "answers.json", capsys)
    assert [line.split()[0] for line in table.splitlines()[2:8]] == [
        "dense", "sparse", "colbert", "all", "bm25", "rrf-dense-bm25"]
    assert result["averages"]["bm25"] == {"AnswerRecall@1": 1.0, "AnswerRecall@3": 1.0}
    _assert_same_table(table, goldens["answers"]["table"])
    _assert_same(result, goldens["answers"]["json"])


def test_rows_grouped_by_answer_position_with_and_without_shared_candidates(tmp_path, tiny_m3, goldens):
    from m3search.eval.runner import run_subsets
    from m3search.eval.suites import Subset

    subsets = [Subset("pos", write_position_beir(tmp_path / "pos"))]
    results = [run_subsets("long", subsets, tiny_m3, cache=tmp_path / "cache", modes=["dense", "colbert", "all", "rrf"],
                           baseline=["bm25-tokens", "rrf-dense-bm25"], metrics=("nDCG@10", "MRR@10"),
                           group_by="position", share_candidates=share) for share in (True, False)]
    shared, separate = results
    assert list(shared.groups["all"]) == ["0-2k", "2-8k", "8-20k", ">20k"]
    assert shared.group_label == "answer position"
    assert shared.to_json() == separate.to_json() and shared.table() == separate.table()
    _assert_same_table(_portable(shared.table()), goldens["position"]["table"])
    _assert_same(json.loads(_portable(json.dumps(shared.to_json()))), goldens["position"]["json"])
