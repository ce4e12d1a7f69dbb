"""The training mix: what it holds, and that it shares nothing with any evaluation suite."""

from __future__ import annotations

import json

import pytest

from m3search.eval.beir import read_beir
from m3search.eval.suites import SUITES, build_suite
from m3search.train.groups import read_groups
from m3search.train.mix import SIB_SOURCE, TRAIN_SOURCES, build_training_mix
from tests.shared_data import DATA, needs_data

pytestmark = [needs_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mix")
    counts = build_training_mix(DATA, tmp / "mix.jsonl", cache=tmp / "suites")
    return counts, read_groups(tmp / "mix.jsonl"), tmp / "suites"


def test_the_mix_holds_every_source_in_its_language(mix):
    counts, groups, _ = mix
    assert set(counts) == {*TRAIN_SOURCES, SIB_SOURCE}
    assert counts["jaquad-train"] > 31000 and counts[SIB_SOURCE] == 701 * 62
    langs = {g.source: g.lang for g in groups if g.source != SIB_SOURCE}
    assert langs == {name: lang for name, (lang, _, _) in TRAIN_SOURCES.items()}
    assert len({g.lang for g in groups if g.source == SIB_SOURCE}) == 62
    assert all(g.pos and not g.neg for g in groups)
    sib = next(g for g in groups if g.source == SIB_SOURCE)
    assert sib.extra["target_lang"] != sib.lang


def test_the_mix_is_disjoint_from_every_evaluation_suite(mix):
    _, groups, suites = mix
    texts, ids = set(), set()
    for suite in SUITES:
        for subset in build_suite(suite, DATA, suites):
            data = read_beir(subset.path)
            texts |= {" ".join(r.text.split()) for r in (*data.corpus, *data.queries)}
            ids |= {r.id for r in data.queries} | {r.id.split("-", 1)[-1] for r in data.queries}
    assert len(texts) > 30_000
    for g in groups:
        assert " ".join(g.query.split()) not in texts
        assert not any(" ".join(p.split()) in texts for p in g.pos)
        if "id" in g.extra:
            assert g.extra["id"].split("-", 2)[-1] not in ids


def test_cli_builds_a_sampled_mix(tmp_path, capsys):
    from m3search.cli import main

    out = tmp_path / "mix.jsonl"
    assert main(["data", "build-train", "--data", str(DATA), "-o", str(out), "--max-per-source", "20",
                 "--sib-sentences", "2", "--cache", str(tmp_path / "suites")]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6 * 20 + 2 * 62  # six QA sources, two SIB sentences in 62 languages
    assert "wrote" in capsys.readouterr().err
