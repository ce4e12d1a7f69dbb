"""The paper's benchmarks from the Hugging Face hub: MIRACL, MLDR and MKQA (no torch).

Each is downloaded on first use with ``huggingface_hub`` (the files below, into the hub's own
cache) and written once as BEIR directories, one per language, under
``<cache>/suites/<suite>/<lang>/``; from there on the bundled-suite machinery evaluates it.

- ``miracl`` (dev, nDCG@10): topics ``miracl-v1.0-{lang}/topics/topics.miracl-v1.0-{lang}-{split}.tsv``
  and qrels ``.../qrels/qrels.miracl-v1.0-{lang}-{split}.tsv`` from ``miracl/miracl``; passages
  ``miracl-corpus-v1.0-{lang}/docs-*.jsonl.gz`` (``docid``, ``title``, ``text``) from
  ``miracl/miracl-corpus``. 18 languages; English alone is 33M passages.
- ``mldr`` (test, nDCG@10): ``mldr-v1.0-{lang}/{split}.jsonl.gz`` (``query_id``, ``query``,
  ``positive_passages``) and ``mldr-v1.0-{lang}/corpus.jsonl.gz`` (``docid``, ``text``) from
  ``Shitao/MLDR``. 13 languages of long documents (up to 8,192 tokens: use
  ``--long-strategy``).
- ``mkqa`` (test, answer recall@20 and @100): ``MKQA_test-data.zip`` (``{lang}.jsonl``: ``id``,
  ``question``, ``answers``) from ``Shitao/bge-m3-data``, searched against BEIR's Natural
  Questions corpus ``corpus.jsonl.gz`` from ``BeIR/nq`` (2.68M English Wikipedia passages,
  shared by the 26 languages). A query counts as answered at k when one of its top k passages
  contains one of its answers, token for token after Unicode (NFD) normalisation and lower-casing
  (RocketQA and DPR's ``has_answer``, as the paper's scripts do).

Offline, the loaders raise :class:`~m3search.errors.InputError` naming the file they could not
fetch. The paper's averages for BGE-M3 (:data:`PAPER`) are printed beside the user's results.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import regex

from ..errors import ConfigurationError, InputError
from ..io.atomic import atomic_write_text
from ..io.jsonl import Record
from .beir import write_beir, write_lines

#: ``fetch(repo_id, filename) -> local path`` of one file of a hub dataset repository.
Fetch = Callable[[str, str], Path]
#: ``list_files(repo_id) -> every file name`` of a hub dataset repository.
ListFiles = Callable[[str], list[str]]


@dataclass(frozen=True)
class HubSuite:
    name: str
    languages: tuple[str, ...]
    split: str
    metrics: tuple[str, ...]
    source: str


HUB_SUITES = {
    "miracl": HubSuite("miracl", ("ar", "bn", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te",
                                  "th", "zh", "de", "yo"), "dev", ("nDCG@10", "Recall@100"),
                       "MIRACL (Zhang et al. 2023), huggingface.co/datasets/miracl/miracl and miracl/miracl-corpus, "
                       "Apache 2.0"),
    "mldr": HubSuite("mldr", ("ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "ru", "th", "zh"), "test",
                     ("nDCG@10", "Recall@100"), "MLDR (Chen et al. 2024), huggingface.co/datasets/Shitao/MLDR, MIT"),
    "mkqa": HubSuite("mkqa", ("en", "ar", "fi", "ja", "ko", "ru", "es", "sv", "he", "th", "da", "de", "fr", "it", "nl",
                              "pl", "pt", "hu", "vi", "ms", "km", "no", "tr", "zh_cn", "zh_hk", "zh_tw"), "test",
                     ("AnswerRecall@100", "AnswerRecall@20"),
                     "MKQA (Longpre et al. 2021, CC BY-SA 3.0) as prepared in huggingface.co/datasets/Shitao/bge-m3-data; "
                     "BEIR Natural Questions corpus, huggingface.co/datasets/BeIR/nq (CC BY-SA 3.0)"),
}

#: BGE-M3's averages in the paper (arXiv 2402.03216 v4, tables 1-3), on the suite's first metric.
PAPER = {
    "miracl": {"bm25-tokens": 0.319, "dense": 0.692, "sparse": 0.539, "colbert": 0.705, "dense+sparse": 0.704,
               "all": 0.715},
    "mldr": {"bm25-tokens": 0.536, "dense": 0.525, "sparse": 0.622, "colbert": 0.576, "dense+sparse": 0.648,
             "all": 0.650},
    "mkqa": {"bm25-tokens": 0.399, "dense": 0.751, "sparse": 0.453, "colbert": 0.753, "dense+sparse": 0.753,
             "all": 0.755},
}


def hub_fetch(repo_id: str, filename: str) -> Path:
    """One file of a hub dataset, downloaded once into the hub's cache."""
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id, filename, repo_type="dataset"))
    except Exception as exc:  # offline, missing file, gated repository: all end here
        raise InputError(f"could not fetch {filename} from the hub dataset {repo_id} ({type(exc).__name__}: {exc}); "
                         "the paper's suites need internet access on first use") from exc


def hub_list_files(repo_id: str) -> list[str]:
    try:
        from huggingface_hub import HfApi

        return list(HfApi().list_repo_files(repo_id, repo_type="dataset"))
    except Exception as exc:
        raise InputError(f"could not list the hub dataset {repo_id} ({type(exc).__name__}: {exc}); "
                         "the paper's suites need internet access on first use") from exc


def build_hub_suite(suite: str, cache: str | Path, *, languages: Sequence[str] | None = None, split: str | None = None,
                    fetch: Fetch | None = None, list_files: ListFiles | None = None) -> list[tuple[str, Path]]:
    """Write ``suite`` (languages ``languages``, default all) as BEIR directories under
    ``cache/suite/``, each language once; return ``[(language, directory)]``. ``fetch`` and
    ``list_files`` default to the hub (:func:`hub_fetch`, :func:`hub_list_files`)."""
    spec = HUB_SUITES[suite]
    fetch, list_files = fetch or hub_fetch, list_files or hub_list_files
    chosen = list(languages or spec.languages)
    unknown = [lang for lang in chosen if lang not in spec.languages]
    if unknown:
        raise ConfigurationError(f"{suite} has no language {unknown[0]!r}; choose from {list(spec.languages)}")
    split = split or spec.split
    out = []
    for lang in chosen:
        directory = Path(cache) / suite / f"{lang}-{split}" if split != spec.split else Path(cache) / suite / lang
        done = directory / "SOURCE.md"
        if not done.is_file():
            writer = {"miracl": _write_miracl, "mldr": _write_mldr, "mkqa": _write_mkqa}[suite]
            writer(lang, split, directory, fetch, list_files)
            atomic_write_text(done, f"# {suite} {lang} ({split})\n\nDownloaded from the Hugging Face hub by m3search.\n\n"
                              f"Source and licence: {spec.source}.\n")
        out.append((lang, directory))
    return out


# ---------------------------------------------------------------------------- readers
def _jsonl_gz(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _tsv(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip("\n").split("\t")


def _write_miracl(lang: str, split: str, directory: Path, fetch: Fetch, list_files: ListFiles) -> None:
    base = f"miracl-v1.0-{lang}"
    topics = fetch("miracl/miracl", f"{base}/topics/topics.{base}-{split}.tsv")
    qrels_file = fetch("miracl/miracl", f"{base}/qrels/qrels.{base}-{split}.tsv")
    prefix = f"miracl-corpus-v1.0-{lang}/"
    shards = sorted(f for f in list_files("miracl/miracl-corpus") if f.startswith(prefix) and f.endswith(".jsonl.gz"))
    if not shards:
        raise InputError(f"the hub dataset miracl/miracl-corpus has no {prefix}*.jsonl.gz")
    corpus = (Record(str(d["docid"]), d["text"], {"title": d.get("title", "")})
              for shard in shards for d in _jsonl_gz(fetch("miracl/miracl-corpus", shard)))
    queries = [Record(q[0], q[1], {"lang": lang}) for q in _tsv(topics)]
    qrels: dict[str, dict[str, int]] = {}
    for fields in _tsv(qrels_file):  # TREC: qid Q0 docid relevance
        qrels.setdefault(fields[0], {})[fields[2]] = int(fields[3])
    write_beir(directory, corpus, queries, qrels, split)


def _write_mldr(lang: str, split: str, directory: Path, fetch: Fetch, list_files: ListFiles) -> None:
    base = f"mldr-v1.0-{lang}"
    corpus = (Record(str(d["docid"]), d["text"], {}) for d in _jsonl_gz(fetch("Shitao/MLDR", f"{base}/corpus.jsonl.gz")))
    queries, qrels = [], {}
    for q in _jsonl_gz(fetch("Shitao/MLDR", f"{base}/{split}.jsonl.gz")):
        qid = str(q["query_id"])
        queries.append(Record(qid, q["query"], {"lang": lang}))
        qrels[qid] = {str(p["docid"]): 1 for p in q["positive_passages"]}
    write_beir(directory, corpus, queries, qrels, split)


def _write_mkqa(lang: str, split: str, directory: Path, fetch: Fetch, list_files: ListFiles) -> None:
    corpus_dir = directory.parent / "_nq-corpus"
    if not (corpus_dir / "corpus.jsonl").is_file():  # one copy of the 2.68M passages for every language
        docs = (json.dumps({"_id": str(d["_id"]), "title": d.get("title", ""), "text": d["text"]}, ensure_ascii=False)
                + "\n" for d in _jsonl_gz(fetch("BeIR/nq", "corpus.jsonl.gz")))
        write_lines(corpus_dir / "corpus.jsonl", docs)
    archive = fetch("Shitao/bge-m3-data", "MKQA_test-data.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = [n for n in zipped.namelist() if n.rsplit("/", 1)[-1] == f"{lang}.jsonl"]
        if not names:
            raise InputError(f"{archive} holds no {lang}.jsonl")
        lines = zipped.read(names[0]).decode("utf-8").splitlines()
    queries = []
    for line in lines:
        if line.strip():
            q = json.loads(line)
            queries.append(json.dumps({"_id": str(q["id"]), "text": q["question"], "lang": lang,
                                       "answers": list(q["answers"])}, ensure_ascii=False) + "\n")
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / "corpus.jsonl"
    if not link.exists():
        os.symlink(os.path.relpath(corpus_dir / "corpus.jsonl", directory), link)
    write_lines(directory / "queries.jsonl", queries)


# ---------------------------------------------------------------------------- answer recall
#: DPR's SimpleTokenizer: runs of letters, digits and marks, or any single other visible character.
_TOKEN = regex.compile(r"[\p{L}\p{N}\p{M}]+|[^\p{Z}\p{C}]", flags=regex.UNICODE)


def answer_tokens(text: str) -> list[str]:
    """DPR's normalisation: Unicode NFD, then alphanumeric runs and single symbols, lower-cased.

    >>> answer_tokens("Mount Everest, 8,848 m")
    ['mount', 'everest', ',', '8', ',', '848', 'm']
    """
    return [m.group().lower() for m in _TOKEN.finditer(unicodedata.normalize("NFD", text))]


def has_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether one of ``answers`` occurs in ``text`` as a whole run of tokens.

    >>> has_answer("The Nile flows north into the Mediterranean.", ["mediterranean", "Red Sea"])
    True
    >>> has_answer("Everest is 8,848 m high", ["848"]), has_answer("Everest is 8848 m high", ["848"])
    (True, False)
    """
    tokens = answer_tokens(text)
    for answer in answers:
        wanted = answer_tokens(answer)
        n = len(wanted)
        if n and any(tokens[i : i + n] == wanted for i in range(len(tokens) - n + 1)):
            return True
    return False


def answer_recall(run: Mapping[str, Mapping[str, float]], answers: Mapping[str, Sequence[str]],
                  texts: Mapping[str, str], metrics: Sequence[str]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """``AnswerRecall@k``: the share of queries with an answer in one of their top ``k`` hits.

    Every query in ``answers`` counts (a query the run misses scores 0).

    >>> answer_recall({"q": {"d1": 2.0, "d2": 1.0}}, {"q": ["Nile"]}, {"d1": "Rhine", "d2": "the Nile"},
    ...               ["AnswerRecall@1", "AnswerRecall@2"])[0]
    {'AnswerRecall@1': 0.0, 'AnswerRecall@2': 1.0}
    """
    cutoffs = {}
    for metric in metrics:
        match = re.fullmatch(r"AnswerRecall@(\d+)", metric)
        if not match:
            raise ConfigurationError(f"{metric!r}: an answer-string suite reports AnswerRecall@k only")
        cutoffs[metric] = int(match.group(1))
    depth = max(cutoffs.values())
    per_query: dict[str, dict[str, float]] = {m: {} for m in metrics}
    for qid, wanted in answers.items():
        scores = run.get(qid, {})
        ranked = sorted(scores, key=lambda d: -scores[d])[:depth]
        first = next((rank for rank, doc in enumerate(ranked, start=1) if has_answer(texts[doc], wanted)), None)
        for metric, k in cutoffs.items():
            per_query[metric][qid] = float(first is not None and first <= k)
    aggregate = {m: float(np.mean(list(v.values()))) if v else 0.0 for m, v in per_query.items()}
    return aggregate, per_query
