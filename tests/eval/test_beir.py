from __future__ import annotations

import json

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


def _beir_fixture(root, name, lang_pairs):
    """A small multilingual BEIR directory: each document answers one query, in two languages."""
    corpus, queries, qrels = [], [], {}
    for i, (doc, query, lang) in enumerate(lang_pairs):
        corpus.append(Record(f"d{i}", doc, {"title": f"T{i}", "lang": lang}))
        queries.append(Record(f"q{i}", query, {"lang": lang}))
        qrels[f"q{i}"] = {f"d{i}": 1}
    return write_beir(root / name, corpus, queries, qrels)


PAIRS = [
    ("Der Mount Everest ist der höchste Berg der Erde.", "höchster Berg der Erde", "de"),
    ("Berlin ist die Hauptstadt von Deutschland.", "Hauptstadt Deutschland", "de"),
    ("Der Rhein fließt durch Köln.", "Fluss Köln", "de"),
    ("Mount Everest is the highest mountain on Earth.", "highest mountain", "en"),
    ("Canberra is the capital of Australia.", "capital of Australia", "en"),
    ("The Nile is the longest river in Africa.", "longest river Africa", "en"),
]


def test_eval_beir_from_the_cli_with_language_groups_plots_and_html(tmp_path, tiny_m3_path, capsys):
    from PIL import Image

    from m3search.cli import main

    a = _beir_fixture(tmp_path, "news", PAIRS)
    b = _beir_fixture(tmp_path, "wiki", PAIRS[::-1])
    out, plots, page = tmp_path / "r.json", tmp_path / "plots", tmp_path / "report.html"
    assert main(["eval", "--beir", str(a), str(b), "--model", str(tiny_m3_path), "--modes", "dense,sparse,all",
                 "--cache", str(tmp_path / "cache"), "-o", str(out), "--plot", str(plots), "--html", str(page)]) == 0
    printed = capsys.readouterr().out
    assert "beir · " in printed and "by lang" in printed and "news" in printed and "wiki" in printed
    result = json.loads(out.read_text())
    assert set(result["scores"]) == {"dense", "sparse", "all"}
    assert set(result["scores"]["dense"]) == {"news", "wiki"} and set(result["groups"]["all"]) == {"de", "en"}
    assert set(result["p_vs_best"]["nDCG@10"]) == {"news", "wiki", "avg"}
    # the same directory evaluated twice (both orders of the same pairs) gives the same numbers
    assert result["scores"]["dense"]["news"] == pytest.approx(result["scores"]["dense"]["wiki"])
    images = sorted(plots.glob("*.png"))
    assert [p.name.split("-")[-1] for p in images] == ["bars.png", "groups.png"]
    for image in images:
        low, high = Image.open(image).convert("L").getextrema()
        assert high - low > 100
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 2 and "nDCG@10" in html


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: (d / "qrels" / "test.tsv").rename(d / "qrels" / "dev.tsv"), "qrels/test.tsv is missing (qrels for dev: choose one with --split)"),
    (lambda d: (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\n"), "test.tsv:2: expected 3 tab-separated fields"),
    (lambda d: (d / "qrels" / "test.tsv").write_text("q0\td9\t1\n"), "query 'q0' judges document 'd9', which is not in corpus.jsonl"),
    (lambda d: (d / "qrels" / "test.tsv").write_text("q9\td0\t1\n"), "query 'q9' is judged but not in queries.jsonl"),
    (lambda d: (d / "corpus.jsonl").write_text('{"_id": "d0", "text": "x"}\n{"_id": "d1", "text": \n'), "corpus.jsonl:2: not valid JSON"),
    (lambda d: (d / "corpus.jsonl").write_text('{"_id": "d0", "text": "", "title": ""}\n'), "document 'd0' has neither text nor title"),
])
def test_malformed_beir_files_are_named_before_the_model_loads(tmp_path, capsys, damage, message):
    from m3search.cli import main

    directory = _beir_fixture(tmp_path, "b", PAIRS[:2])
    damage(directory)
    assert main(["eval", "--beir", str(directory), "--model", str(tmp_path / "no-model-here")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_a_document_with_only_a_title_is_searched_by_its_title(tmp_path):
    directory = _beir_fixture(tmp_path, "b", PAIRS[:1])
    (directory / "corpus.jsonl").write_text('{"_id": "d0", "title": "Everest", "text": ""}\n')
    assert read_beir(directory).corpus[0].text == "Everest"


def test_cross_lingual_results_are_drawn_as_heatmaps(tmp_path):
    from PIL import Image

    from m3search.eval.plots import write_plots
    from m3search.eval.report import SuiteResult

    pairs = {f"{x}-{y}": {"nDCG@10": 1.0 if x == y else 0.4} for x in ("de", "en", "zh") for y in ("de", "en", "zh")}
    result = SuiteResult("xquad-cross", "m", ("nDCG@10",), {"dense": pairs, "all": pairs})
    images = write_plots(result, tmp_path)
    assert sorted(p.name for p in images) == ["xquad-cross-m-nDCG10-heatmap-all.png", "xquad-cross-m-nDCG10-heatmap-dense.png"]
    assert Image.open(images[0]).size[0] > 200
