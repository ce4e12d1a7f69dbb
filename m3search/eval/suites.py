"""Benchmark suites built from the raw multilingual data in ``shared/data`` (no torch).

Each suite is written once, in BEIR layout, under ``<cache>/suites/<suite>/<subset>/``, with a
``SOURCE.md`` naming its origin and licence. The raw data is read in place, never copied into
the repository.

- ``xquad-mono``: per XQuAD language, its questions against its own 240 paragraphs (MTEB's
  XQuADRetrieval construction).
- ``xquad-cross``: questions in language X against paragraphs in language Y, all 12 x 12 pairs
  (subset ``X-Y``; corpus and queries are links to the mono files).
- ``lareqa``: XQuAD-R: each language's questions against one pool of all 13,014 candidate
  sentences in 11 languages; a question has one relevant sentence per language.
- ``native-qa``: native-language QA: DRCD test (zh-Hant), CMRC 2018 dev (zh-Hans), JSQuAD valid
  (ja), ARCD test (ar), iApp test (th); each question against all unique paragraphs of its
  set, at most 1,000 questions per set (seed 0).
- ``long-es``: XQuAD questions in 12 languages against the 48 full SQuAD-es articles (linked by
  the shared SQuAD question ids); each query records where its answer paragraph starts in the
  article (``position``: 0-2k, 2-8k, 8-20k, >20k characters).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError, InputError
from ..io.atomic import atomic_write_text
from ..io.jsonl import Record
from .beir import write_beir

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
LAREQA_LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
NATIVE_SETS = {  # subset: (language, path under raw/, loader)
    "drcd": ("zh-Hant", "drcd/DRCD_test.json", "squad"),
    "cmrc": ("zh-Hans", "cmrc2018/cmrc2018_dev.json", "squad"),
    "jsquad": ("ja", "jsquad/valid-v1.3.json", "squad"),
    "arcd": ("ar", "arcd/arcd-test.json", "squad"),
    "iapp": ("th", "iapp_thai_qa/data.zip", "iapp"),
}
NATIVE_MAX_QUERIES = 1000
POSITION_BUCKETS = ((0, 2000, "0-2k"), (2000, 8000, "2-8k"), (8000, 20000, "8-20k"), (20000, 10**9, ">20k"))
LICENCES = {
    "xquad-mono": "XQuAD (Artetxe et al. 2020), github.com/deepmind/xquad, CC BY-SA 4.0",
    "xquad-cross": "XQuAD (Artetxe et al. 2020), github.com/deepmind/xquad, CC BY-SA 4.0",
    "lareqa": "XQuAD-R / LAReQA (Roy et al. 2020), github.com/google-research-datasets/lareqa, CC BY-SA 4.0",
    "native-qa": "DRCD (CC BY-SA 3.0), CMRC 2018 (CC BY-SA 4.0), JSQuAD/JGLUE (CC BY-SA 4.0), ARCD (MIT; "
                 "Arabic Wikipedia text), iApp Wiki QA (MIT)",
    "long-es": "SQuAD-es v1.1 (Carrino et al. 2020, CC BY 4.0) and XQuAD (CC BY-SA 4.0)",
}
SUITES = tuple(LICENCES)


@dataclass(frozen=True)
class Subset:
    name: str
    path: Path


def position_bucket(offset: int) -> str:
    """The answer-position bucket of a character offset.

    >>> position_bucket(0), position_bucket(2000), position_bucket(25000)
    ('0-2k', '2-8k', '>20k')
    """
    return next(label for low, high, label in POSITION_BUCKETS if low <= offset < high)


def _squad(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: is --data the shared/data directory? ({exc.strerror})") from exc


def _paragraphs(squad: dict) -> Iterator[tuple[str, dict]]:
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            yield article.get("title", ""), paragraph


def build_xquad_mono(raw: Path, out: Path) -> None:
    for lang in XQUAD_LANGS:
        corpus, queries, qrels = [], [], {}
        for p, (title, paragraph) in enumerate(_paragraphs(_squad(raw / "xquad" / f"xquad.{lang}.json"))):
            doc_id = f"p{p}"
            corpus.append(Record(doc_id, paragraph["context"], {"title": title, "lang": lang}))
            for qa in paragraph["qas"]:
                queries.append(Record(qa["id"], qa["question"], {"lang": lang}))
                qrels[qa["id"]] = {doc_id: 1}
        write_beir(out / lang, corpus, queries, qrels)


def build_xquad_cross(raw: Path, out: Path) -> None:
    mono = out.parent / "xquad-mono"
    if not (mono / XQUAD_LANGS[-1] / "qrels" / "test.tsv").is_file():
        build_suite("xquad-mono", raw.parent, out.parent)
    for x in XQUAD_LANGS:
        for y in XQUAD_LANGS:
            target = out / f"{x}-{y}"
            (target / "qrels").mkdir(parents=True, exist_ok=True)
            for name, source in (("corpus.jsonl", mono / y / "corpus.jsonl"), ("queries.jsonl", mono / x / "queries.jsonl")):
                link = target / name
                if link.is_symlink() or link.exists():
                    link.unlink()
                os.symlink(os.path.relpath(source, target), link)
            shutil.copyfile(mono / x / "qrels" / "test.tsv", target / "qrels" / "test.tsv")  # parallel: same p<i>


def _sentence_of(breaks: list[list[int]], offset: int) -> int:
    for i, (start, end) in enumerate(breaks):
        if start <= offset <= end:
            return i
    return len(breaks) - 1


def build_lareqa(raw: Path, out: Path) -> None:
    corpus: list[Record] = []
    answer_sentence: dict[str, dict[str, str]] = {}  # question id -> lang -> sentence id
    questions: dict[str, list[Record]] = {}
    for lang in LAREQA_LANGS:
        squad = _squad(raw / "lareqa_xquad_r" / "xquad-r" / f"{lang}.json")
        for p, (_, paragraph) in enumerate(_paragraphs(squad)):
            ids = [f"{lang}-p{p}-s{s}" for s in range(len(paragraph["sentences"]))]
            corpus.extend(Record(i, text, {"lang": lang}) for i, text in zip(ids, paragraph["sentences"]))
            for qa in paragraph["qas"]:
                sentence = _sentence_of(paragraph["sentence_breaks"], qa["answers"][0]["answer_start"])
                answer_sentence.setdefault(qa["id"], {})[lang] = ids[sentence]
                questions.setdefault(lang, []).append(Record(f"{lang}-{qa['id']}", qa["question"], {"lang": lang}))
    (out / "_corpus").mkdir(parents=True, exist_ok=True)
    for lang in LAREQA_LANGS:
        qrels = {q.id: {s: 1 for s in answer_sentence[q.id.split("-", 1)[1]].values()} for q in questions[lang]}
        write_beir(out / lang, corpus if lang == LAREQA_LANGS[0] else [], questions[lang], qrels)
        if lang != LAREQA_LANGS[0]:  # one shared pool of sentences: link it
            link = out / lang / "corpus.jsonl"
            link.unlink()
            os.symlink(os.path.relpath(out / LAREQA_LANGS[0] / "corpus.jsonl", out / lang), link)
    shutil.rmtree(out / "_corpus")


def _native_records(raw: Path, subset: str) -> tuple[list[tuple[str, str]], str]:
    """(question, paragraph) pairs of one native QA set, and its language."""
    lang, rel, loader = NATIVE_SETS[subset]
    pairs = []
    if loader == "iapp":
        with zipfile.ZipFile(raw / rel) as archive:
            for line in archive.read("data/test.jsonl").decode("utf-8").splitlines():
                if line.strip():
                    obj = json.loads(line)
                    pairs.append((obj["question"], obj["context"]))
    else:
        for _, paragraph in _paragraphs(_squad(raw / rel)):
            pairs.extend((qa["question"], paragraph["context"]) for qa in paragraph["qas"])
    return pairs, lang


def build_native_qa(raw: Path, out: Path) -> None:
    for subset in NATIVE_SETS:
        pairs, lang = _native_records(raw, subset)
        paragraph_id: dict[str, str] = {}
        for _, context in pairs:
            paragraph_id.setdefault(context, f"p{len(paragraph_id)}")
        sample = sorted(random.Random(0).sample(range(len(pairs)), min(NATIVE_MAX_QUERIES, len(pairs))))
        corpus = [Record(i, text, {"lang": lang}) for text, i in paragraph_id.items()]
        queries = [Record(f"q{i}", pairs[i][0], {"lang": lang}) for i in sample]
        qrels = {f"q{i}": {paragraph_id[pairs[i][1]]: 1} for i in sample}
        write_beir(out / subset, corpus, queries, qrels)


def build_long_es(raw: Path, out: Path) -> None:
    squad_es = _squad(raw / "squad_es" / "dev-v1.1-es_small.json")
    corpus, where = [], {}  # where: question id -> (article id, answer paragraph start)
    for a, article in enumerate(squad_es["data"]):
        parts, offset = [], 0
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                where[qa["id"]] = (f"a{a}", offset)
            parts.append(paragraph["context"])
            offset += len(paragraph["context"]) + 2
        corpus.append(Record(f"a{a}", "\n\n".join(parts), {"title": article["title"].replace(" _ ", "_"), "lang": "es"}))
    for lang in XQUAD_LANGS:
        queries, qrels = [], {}
        for _, paragraph in _paragraphs(_squad(raw / "xquad" / f"xquad.{lang}.json")):
            for qa in paragraph["qas"]:
                if qa["id"] in where:
                    article_id, start = where[qa["id"]]
                    queries.append(Record(qa["id"], qa["question"], {"lang": lang, "position": position_bucket(start)}))
                    qrels[qa["id"]] = {article_id: 1}
        write_beir(out / lang, corpus if lang == XQUAD_LANGS[0] else [], queries, qrels)
        if lang != XQUAD_LANGS[0]:
            link = out / lang / "corpus.jsonl"
            link.unlink()
            os.symlink(os.path.relpath(out / XQUAD_LANGS[0] / "corpus.jsonl", out / lang), link)


BUILDERS: dict[str, Callable[[Path, Path], None]] = {
    "xquad-mono": build_xquad_mono, "xquad-cross": build_xquad_cross, "lareqa": build_lareqa,
    "native-qa": build_native_qa, "long-es": build_long_es,
}
SUBSETS = {
    "xquad-mono": XQUAD_LANGS, "xquad-cross": tuple(f"{x}-{y}" for x in XQUAD_LANGS for y in XQUAD_LANGS),
    "lareqa": LAREQA_LANGS, "native-qa": tuple(NATIVE_SETS), "long-es": XQUAD_LANGS,
}


def build_suite(suite: str, data_dir: str | Path, cache: str | Path, *, force: bool = False) -> list[Subset]:
    """Build ``suite`` from ``data_dir`` (the ``shared/data`` directory) into ``cache/suite``
    unless it is already there; return its subsets."""
    if suite not in BUILDERS:
        raise ConfigurationError(f"unknown suite {suite!r}; choose from {list(SUITES)}")
    out = Path(cache) / suite
    done = out / "SOURCE.md"
    if force or not done.is_file():
        raw = Path(data_dir) / "raw"
        if not raw.is_dir():
            raise InputError(f"{data_dir} has no raw/ directory: pass --data pointing at shared/data")
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        BUILDERS[suite](raw, out)
        atomic_write_text(done, f"# {suite}\n\nBuilt by m3search from {raw}.\n\nSource and licence: {LICENCES[suite]}.\n"
                          "Derived files keep the source's licence.\n")
    return [Subset(name, out / name) for name in SUBSETS[suite]]
