"""The multilingual training mix built from ``shared/data`` (no torch).

Only files that no evaluation suite uses are read (``TRAIN_SOURCES``): JaQuAD train (ja), JSQuAD
test (ja), DRCD dev (zh-Hant), CMRC 2018 trial (zh-Hans), iApp train (th), ARCD train (ar), and
the SIB-200 train split as parallel sentences across its 62 languages (a sentence in one
language retrieves its translation in another). Every group whose question id, question text or
passage text also occurs in an evaluation suite (``xquad-mono``, ``xquad-cross``, ``lareqa``,
``native-qa``, ``long-es``) is dropped, so the mix is disjoint from evaluation by construction
(and ``tests/train/test_build.py`` checks it independently).

Each question becomes ``{"query", "pos": [its paragraph], "neg": [], "lang", "source"}``;
``m3search mine`` then fills the negatives.
"""

from __future__ import annotations

import csv
import json
import random
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..eval.beir import read_beir
from ..eval.suites import SUITES, build_suite
from .groups import TrainGroup, write_groups

#: name: (language, path under raw/, format)
TRAIN_SOURCES = {
    "jaquad-train": ("ja", "jaquad/train", "squad-dir"),
    "jsquad-test": ("ja", "jsquad/test-v1.3.json", "squad"),
    "drcd-dev": ("zh-Hant", "drcd/DRCD_dev.json", "squad"),
    "cmrc-trial": ("zh-Hans", "cmrc2018/cmrc2018_trial.json", "squad"),
    "iapp-train": ("th", "iapp_thai_qa/data.zip", "iapp"),
    "arcd-train": ("ar", "arcd/arcd-train.json", "squad"),
}
SIB_SOURCE = "sib200-train"


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    paragraph: str


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: is --data the shared/data directory? ({exc.strerror})") from exc


def _squad_questions(data: dict) -> Iterator[Question]:
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield Question(str(qa["id"]), qa["question"], paragraph["context"])


def read_source(raw: Path, name: str) -> list[Question]:
    """The questions of one training source, with their paragraphs."""
    _, rel, kind = TRAIN_SOURCES[name]
    path = raw / rel
    if kind == "squad-dir":
        return [q for file in sorted(path.glob("*.json")) for q in _squad_questions(_read_json(file))]
    if kind == "squad":
        return list(_squad_questions(_read_json(path)))
    with zipfile.ZipFile(path) as archive:
        lines = archive.read("data/train.jsonl").decode("utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [Question(str(r["question_id"]), r["question"], r["context"]) for r in rows]


def read_sib(raw: Path) -> dict[str, dict[str, str]]:
    """``{language: {sentence index: text}}`` of the SIB-200 train split."""
    out: dict[str, dict[str, str]] = {}
    for folder in sorted((raw / "sib200" / "annotated").iterdir()):
        with open(folder / "train.tsv", encoding="utf-8", newline="") as handle:
            rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            out[folder.name] = {row["index_id"]: row["text"] for row in rows}
    return out


def _key(text: str) -> str:
    return " ".join(text.split())


def evaluation_texts(data_dir: Path, cache: Path) -> tuple[set[str], set[str]]:
    """The (normalised) texts and the ids of every query and document of every evaluation suite."""
    texts: set[str] = set()
    ids: set[str] = set()
    for suite in SUITES:
        for subset in build_suite(suite, data_dir, cache):
            data = read_beir(subset.path)
            texts.update(_key(r.text) for r in (*data.corpus, *data.queries))
            ids.update(r.id.split("-", 1)[-1] for r in data.queries)
            ids.update(r.id for r in data.queries)
    return texts, ids


def build_training_mix(data_dir: str | Path, out: str | Path, *, cache: str | Path, max_per_source: int | None = None,
                       sib_sentences: int | None = None, seed: int = 0) -> dict[str, int]:
    """Write the training mix to ``out`` (JSONL); return the number of groups per source.

    ``max_per_source`` samples at most that many questions per QA source; ``sib_sentences``
    takes that many SIB-200 sentence indices (each in all 62 languages, paired with a random
    other language).
    """
    data_dir = Path(data_dir)
    raw = data_dir / "raw"
    if not raw.is_dir():
        raise InputError(f"{data_dir} has no raw/ directory: pass --data pointing at shared/data")
    blocked_texts, blocked_ids = evaluation_texts(data_dir, Path(cache))
    rng = random.Random(seed)
    groups: list[TrainGroup] = []
    counts: dict[str, int] = {}
    for name, (lang, _, _) in TRAIN_SOURCES.items():
        by_query: dict[str, list[str]] = {}
        first_id: dict[str, str] = {}
        for q in read_source(raw, name):
            if q.id in blocked_ids or _key(q.text) in blocked_texts or _key(q.paragraph) in blocked_texts:
                continue
            if not q.text.strip() or not q.paragraph.strip():
                continue
            first_id.setdefault(q.text.strip(), q.id)
            positives = by_query.setdefault(q.text.strip(), [])
            if q.paragraph not in positives:
                positives.append(q.paragraph)
        chosen = sorted(by_query)
        if max_per_source is not None and len(chosen) > max_per_source:
            chosen = sorted(rng.sample(chosen, max_per_source))
        groups.extend(TrainGroup(text, tuple(by_query[text]), (), lang=lang, source=name,
                                 extra={"id": f"{name}-{first_id[text]}"}) for text in chosen)
        counts[name] = len(chosen)
    sib = read_sib(raw)
    languages = sorted(sib)
    shared = sorted(set.intersection(*(set(v) for v in sib.values())), key=int)
    if sib_sentences is not None and len(shared) > sib_sentences:
        shared = sorted(rng.sample(shared, sib_sentences), key=int)
    sib_groups = 0
    for index in shared:
        for lang in languages:
            other = rng.choice([x for x in languages if x != lang])
            query, target = sib[lang][index], sib[other][index]
            if _key(query) in blocked_texts or _key(target) in blocked_texts:
                continue
            groups.append(TrainGroup(query, (target,), (), lang=lang, source=SIB_SOURCE, extra={"target_lang": other}))
            sib_groups += 1
    counts[SIB_SOURCE] = sib_groups
    write_groups(out, groups)
    return counts
