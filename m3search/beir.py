"""The BEIR layout and TREC run files, so that users can bring their own benchmarks (no torch).

A BEIR directory holds ``corpus.jsonl`` (``_id``, ``title``, ``text``, other fields kept as
metadata), ``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``,
``corpus-id``, ``score`` with a header line). A TREC run line is ``qid Q0 docid rank score tag``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from .data import Record
from .errors import InputError


@dataclass(frozen=True)
class BeirData:
    corpus: list[Record]
    queries: list[Record]
    qrels: dict[str, dict[str, int]]


def _atomic_lines(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    os.replace(tmp, path)


def write_beir(directory: str | Path, corpus: Iterable[Record], queries: Iterable[Record],
               qrels: Mapping[str, Mapping[str, int]], split: str = "test") -> Path:
    """Write a BEIR directory (files replaced atomically)."""
    directory = Path(directory)

    def doc_line(r: Record) -> str:
        title = r.metadata.get("title", "")
        rest = {k: v for k, v in r.metadata.items() if k != "title"}
        return json.dumps({"_id": r.id, "title": title, "text": r.text, **rest}, ensure_ascii=False) + "\n"

    _atomic_lines(directory / "corpus.jsonl", (doc_line(r) for r in corpus))
    _atomic_lines(directory / "queries.jsonl",
                  (json.dumps({"_id": r.id, "text": r.text, **r.metadata}, ensure_ascii=False) + "\n" for r in queries))
    _atomic_lines(directory / "qrels" / f"{split}.tsv",
                  ["query-id\tcorpus-id\tscore\n"] + [f"{q}\t{d}\t{g}\n" for q, docs in qrels.items() for d, g in docs.items()])
    return directory


def _read_records(path: Path, id_key: str = "_id") -> list[Record]:
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            obj = json.loads(line)
            try:
                doc_id, text = str(obj.pop(id_key)), obj.pop("text")
            except KeyError as exc:
                raise InputError(f"{path}:{number}: missing field {exc}") from exc
            records.append(Record(doc_id, text, obj))
    return records


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.rstrip("\n").split("\t")
            if number == 1 and fields[0] == "query-id":
                continue
            if len(fields) != 3:
                raise InputError(f"{path}:{number}: expected 3 tab-separated fields, got {len(fields)}")
            qrels.setdefault(fields[0], {})[fields[1]] = int(fields[2])
    return qrels


def read_beir(directory: str | Path, split: str = "test") -> BeirData:
    """Read a BEIR directory; corpus titles come back in ``metadata["title"]``."""
    directory = Path(directory)
    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (directory / name).is_file():
            raise InputError(f"{directory} is not a BEIR directory: {name} is missing")
    return BeirData(_read_records(directory / "corpus.jsonl"), _read_records(directory / "queries.jsonl"),
                    read_qrels(directory / "qrels" / f"{split}.tsv"))


def write_trec_run(path: str | Path, run: Mapping[str, Mapping[str, float]], tag: str = "m3search") -> None:
    """Write a run as TREC lines, ranked by score within each query."""
    def lines():
        for qid, docs in run.items():
            for rank, (doc, score) in enumerate(sorted(docs.items(), key=lambda x: -x[1]), start=1):
                yield f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n"

    _atomic_lines(Path(path), lines())


def read_trec_run(path: str | Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 6:
                raise InputError(f"{path}:{number}: a TREC run line has 6 fields, got {len(fields)}")
            run.setdefault(fields[0], {})[fields[2]] = float(fields[4])
    return run
