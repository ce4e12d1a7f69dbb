"""The paper's suites (MIRACL, MLDR, MKQA) on small fixtures written in the hubs' own file layouts."""

from __future__ import annotations

import gzip
import json
import unicodedata
import zipfile
from pathlib import Path

import pytest

from m3search.errors import ConfigurationError, InputError
from m3search.eval import public_suites
from m3search.eval.beir import read_beir
from m3search.eval.public_suites import answer_recall, answer_tokens, build_hub_suite, has_answer
from m3search.eval.runner import run_suite

NQ = [  # BEIR's Natural Questions corpus: _id, title, text
    {"_id": "doc0", "title": "Nile", "text": "The Nile flows north into the Mediterranean Sea."},
    {"_id": "doc1", "title": "Everest", "text": "Mount Everest is 8,848 metres high."},
    {"_id": "doc2", "title": "Rhine", "text": "The Rhine rises in the Swiss Alps."},
]
MKQA_DE = [  # three questions: two answerable from the corpus, one not
    {"id": "m1", "question": "Wohin fließt der Nil?", "answers": ["Mediterranean Sea", "Mittelmeer"]},
    {"id": "m2", "question": "Wie hoch ist der Everest?", "answers": ["8,848 metres"]},
    {"id": "m3", "question": "Wer schrieb Faust?", "answers": ["Goethe"]},
]


def _gz(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def fake_hub(tmp_path, monkeypatch) -> Path:
    """A directory per hub repository, holding exactly the files the loaders fetch."""
    root = tmp_path / "hub"
    base = root / "miracl/miracl/miracl-v1.0-de"
    _text(base / "topics/topics.miracl-v1.0-de-dev.tsv", "q1\tWo fließt der Rhein?\nq2\tWie hoch ist der Everest?\n")
    _text(base / "qrels/qrels.miracl-v1.0-de-dev.tsv", "q1\tQ0\t10#0\t1\nq1\tQ0\t11#0\t0\nq2\tQ0\t12#1\t1\n")
    corpus = root / "miracl/miracl-corpus/miracl-corpus-v1.0-de"
    _gz(corpus / "docs-0.jsonl.gz", [{"docid": "10#0", "title": "Rhein", "text": "Der Rhein fließt durch Basel."},
                                     {"docid": "11#0", "title": "Donau", "text": "Die Donau fließt ins Schwarze Meer."}])
    _gz(corpus / "docs-1.jsonl.gz", [{"docid": "12#1", "title": "Everest", "text": "Der Everest ist 8848 m hoch."}])
    mldr = root / "Shitao/MLDR/mldr-v1.0-de"
    _gz(mldr / "corpus.jsonl.gz", [{"docid": "doc-de-1", "text": "Ein langer Artikel über den Rhein. " * 20},
                                   {"docid": "doc-de-2", "text": "Ein langer Artikel über die Alpen. " * 20}])
    _gz(mldr / "test.jsonl.gz", [{"query_id": "q-de-1", "query": "Rhein", "negative_passages": [],
                                  "positive_passages": [{"docid": "doc-de-1", "text": "..."}]}])
    _gz(root / "BeIR/nq/corpus.jsonl.gz", NQ)
    archive = root / "Shitao/bge-m3-data/MKQA_test-data.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("qa_data/de.jsonl", "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in MKQA_DE))

    def fetch(repo_id: str, filename: str) -> Path:
        path = root / repo_id / filename
        if not path.is_file():
            raise InputError(f"could not fetch {filename} from the hub dataset {repo_id}")
        return path

    def list_files(repo_id: str) -> list[str]:
        return sorted(str(p.relative_to(root / repo_id)) for p in (root / repo_id).rglob("*") if p.is_file())

    monkeypatch.setattr(public_suites, "hub_fetch", fetch)
    monkeypatch.setattr(public_suites, "hub_list_files", list_files)
    return root


def test_miracl_is_written_as_beir_from_its_topics_qrels_and_every_corpus_shard(fake_hub, tmp_path):
    ((lang, directory),) = build_hub_suite("miracl", tmp_path / "suites", languages=["de"])
    data = read_beir(directory, "dev")
    assert lang == "de" and [d.id for d in data.corpus] == ["10#0", "11#0", "12#1"]
    assert data.corpus[2].metadata["title"] == "Everest"
    assert [(q.id, q.metadata["lang"]) for q in data.queries] == [("q1", "de"), ("q2", "de")]
    assert data.qrels == {"q1": {"10#0": 1, "11#0": 0}, "q2": {"12#1": 1}}


def test_mldr_is_written_as_beir_with_positive_passages_as_qrels(fake_hub, tmp_path):
    ((_, directory),) = build_hub_suite("mldr", tmp_path / "suites", languages=["de"])
    data = read_beir(directory, "test")
    assert [d.id for d in data.corpus] == ["doc-de-1", "doc-de-2"]
    assert data.qrels == {"q-de-1": {"doc-de-1": 1}}


def test_mkqa_shares_one_corpus_and_keeps_answers_instead_of_qrels(fake_hub, tmp_path):
    ((_, directory),) = build_hub_suite("mkqa", tmp_path / "suites", languages=["de"])
    assert (directory / "corpus.jsonl").is_symlink()
    data = read_beir(directory, "test")
    assert len(data.corpus) == 3 and data.qrels == {}
    assert data.queries[0].metadata["answers"] == ["Mediterranean Sea", "Mittelmeer"]


def test_mkqa_answer_recall_end_to_end(fake_hub, tmp_path, tiny_m3):
    # the corpus (3 passages) is shorter than the cutoffs, so every mode retrieves all of it:
    # m1 and m2 have an answer in the corpus, m3 has none, whatever the ranking
    result = run_suite("mkqa", tiny_m3, data_dir=tmp_path, cache=tmp_path / "cache", modes=["dense", "all"],
                       subsets=["de"])
    assert result.metrics == ("AnswerRecall@100", "AnswerRecall@20")
    assert result.scores["dense"]["de"] == pytest.approx({"AnswerRecall@100": 2 / 3, "AnswerRecall@20": 2 / 3})
    assert result.scores["all"]["de"]["AnswerRecall@100"] == pytest.approx(2 / 3)


def test_miracl_end_to_end_through_the_cli(fake_hub, tmp_path, tiny_m3_path, capsys):
    from m3search.cli import main

    assert main(["eval", "--suite", "miracl", "--subsets", "de", "--model", str(tiny_m3_path), "--modes", "dense",
                 "--cache", str(tmp_path / "cache"), "-o", str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out
    assert "BGE-M3 in the paper" in out and "all 0.715" in out
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["suite"] == "miracl" and set(saved["scores"]["dense"]) == {"de"}


def test_offline_and_unknown_languages_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # read once, at import
    with pytest.raises(InputError, match="could not fetch .*topics.miracl-v1.0-sw-dev.tsv .*internet"):
        build_hub_suite("miracl", tmp_path, languages=["sw"])
    with pytest.raises(ConfigurationError, match="mldr has no language 'xx'"):
        build_hub_suite("mldr", tmp_path, languages=["xx"])


def test_has_answer_follows_dpr_tokens():
    assert answer_tokens("Über 8,848 m!") == [unicodedata.normalize("NFD", "über"), "8", ",", "848", "m", "!"]
    assert has_answer("ÜBER den Fluss", ["über"])  # NFD and lower case on both sides
    assert has_answer("Everest is 8,848 m high", ["8,848 m"])
    assert not has_answer("Everest is 8848 m high", ["848"])  # whole tokens only
    assert not has_answer("珠穆朗玛峰是世界最高峰", ["珠穆朗玛峰"])  # a CJK run is one token, as in DPR
    aggregate, per_query = answer_recall({"a": {"d1": 1.0}}, {"a": ["x"], "b": ["y"]}, {"d1": "x"},
                                         ["AnswerRecall@1"])
    assert aggregate == {"AnswerRecall@1": 0.5} and per_query["AnswerRecall@1"] == {"a": 1.0, "b": 0.0}
    with pytest.raises(ConfigurationError, match="AnswerRecall@k only"):
        answer_recall({}, {"a": ["x"]}, {}, ["nDCG@10"])
