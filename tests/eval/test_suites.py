"""Suites built from the real shared/data (CI has it beside the clone)."""

from __future__ import annotations

import pytest

from m3search.errors import ConfigurationError, InputError
from m3search.eval.beir import read_beir
from m3search.eval.suites import build_suite
from tests.shared_data import DATA, needs_data


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("suites")


@needs_data
def test_xquad_mono_and_cross(cache):
    mono = build_suite("xquad-mono", DATA, cache)
    assert [s.name for s in mono][:3] == ["ar", "de", "el"] and len(mono) == 12
    de = read_beir(mono[1].path)
    assert len(de.corpus) == 240 and len(de.queries) == 1190 and len(de.qrels) == 1190
    cross = {s.name: s for s in build_suite("xquad-cross", DATA, cache)}
    assert len(cross) == 144
    ru_zh = read_beir(cross["ru-zh"].path)
    assert ru_zh.queries[0].metadata["lang"] == "ru" and ru_zh.corpus[0].metadata["lang"] == "zh"
    # parallel data: a Russian question's paragraph id is the same paragraph in Chinese
    assert ru_zh.qrels == read_beir(cross["ru-ru"].path).qrels


@needs_data
def test_lareqa_has_one_relevant_sentence_per_language(cache):
    subsets = build_suite("lareqa", DATA, cache)
    en = read_beir(subsets[3].path)
    assert len(en.corpus) == 13014 and len(en.queries) == 1190
    first = next(iter(en.qrels.values()))
    assert len(first) == 11 and {d.split("-")[0] for d in first} == {s.name for s in subsets}


@needs_data
def test_native_qa_and_long_es(cache):
    native = {s.name: read_beir(s.path) for s in build_suite("native-qa", DATA, cache)}
    assert set(native) == {"drcd", "cmrc", "jsquad", "arcd", "iapp"}
    assert all(len(d.queries) <= 1000 for d in native.values())
    assert len(native["arcd"].queries) == 702
    long_es = build_suite("long-es", DATA, cache)
    zh = read_beir(long_es[-1].path)
    assert len(zh.corpus) == 48 and len(zh.queries) == 732
    assert {q.metadata["position"] for q in zh.queries} == {"0-2k", "2-8k", "8-20k", ">20k"}


def test_bad_suite_and_data(tmp_path):
    with pytest.raises(ConfigurationError, match="unknown suite"):
        build_suite("mteb", tmp_path, tmp_path)
    with pytest.raises(InputError, match="no raw/ directory"):
        build_suite("xquad-mono", tmp_path, tmp_path / "cache")


@pytest.mark.slow
@needs_data
def test_a_suite_written_as_beir_gives_the_suites_numbers(cache, tiny_m3, tmp_path):
    import shutil

    from m3search.eval.runner import run_beir, run_suite

    suite = run_suite("xquad-mono", tiny_m3, data_dir=DATA, cache=cache, modes=["dense", "all"], subsets=["th"],
                      baseline="bm25")
    copy = shutil.copytree(cache / "suites" / "xquad-mono" / "th", tmp_path / "th")  # as a user would have it
    beir = run_beir([copy], tiny_m3, cache=cache, modes=["dense", "all"], baseline="bm25")
    assert beir.scores["bm25"] == suite.scores["bm25"]
    # the tiny random model's dense cosines differ by ~1e-6, so the engine's approximate search may
    # order a few deep ties differently between two builds of the same index
    for row in ("dense", "all"):
        for metric, value in suite.scores[row]["th"].items():
            assert beir.scores[row]["th"][metric] == pytest.approx(value, abs=0.01)


@pytest.mark.slow
@needs_data
def test_an_unknown_subset_is_refused_naming_the_known_ones(cache, tiny_m3):
    from m3search.errors import ConfigurationError
    from m3search.eval.runner import run_suite

    with pytest.raises(ConfigurationError, match="xquad-mono has no subset 'xx'; it has ar, de, el, en"):
        run_suite("xquad-mono", tiny_m3, data_dir=DATA, cache=cache, modes=["dense"], subsets=["de", "xx"])
