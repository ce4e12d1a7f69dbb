"""The BEIR layout, so that users can bring their own benchmarks (no torch).

A BEIR directory holds ``corpus.jsonl`` (``_id``, ``title``, ``text``, other fields kept as
metadata), ``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``,
``corpus-id``, ``score`` with a header line).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..io.atomic import atomic_write
from ..io.jsonl import Record, read_jsonl


@dataclass(frozen=True)
class BeirData:
    corpus: list[Record]
    queries: list[Record]
    qrels: dict[str, dict[str, int]]


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write text lines to ``path`` atomically."""
    with atomic_write(path) as handle:
        handle.writelines(lines)


def write_beir(directory: str | Path, corpus: Iterable[Record], queries: Iterable[Record],
               qrels: Mapping[str, Mapping[str, int]], split: str = "test") -> Path:
    """Write a BEIR directory (files replaced atomically)."""
    directory = Path(directory)

    def doc_line(r: Record) -> str:
        title = r.metadata.get("title", "")
        rest = {k: v for k, v in r.metadata.items() if k != "title"}
        return json.dumps({"_id": r.id, "title": title, "text": r.text, **rest}, ensure_ascii=False) + "\n"

    write_lines(directory / "corpus.jsonl", (doc_line(r) for r in corpus))
    write_lines(directory / "queries.jsonl",
                  (json.dumps({"_id": r.id, "text": r.text, **r.metadata}, ensure_ascii=False) + "\n" for r in queries))
    write_lines(directory / "qrels" / f"{split}.tsv",
                  ["query-id\tcorpus-id\tscore\n"] + [f"{q}\t{d}\t{g}\n" for q, docs in qrels.items() for d, g in docs.items()])
    return directory


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """``{query id: {document id: relevance}}`` of a BEIR qrels TSV (header line optional)."""
    try:
        data = Path(path).read_bytes()
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        where = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if number == 1 and fields[0] == "query-id":
            continue
        if len(fields) != 3:
            raise InputError(f"{path}:{number}: expected 3 tab-separated fields, got {len(fields)}")
        try:
            qrels.setdefault(fields[0], {})[fields[1]] = int(fields[2])
        except ValueError as exc:
            raise InputError(f"{path}:{number}: relevance {fields[2]!r} is not an integer") from exc
    return qrels


def read_beir(directory: str | Path, split: str = "test") -> BeirData:
    """Read a BEIR directory; corpus titles come back in ``metadata["title"]``."""
    directory = Path(directory)
    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if name.startswith("qrels") and _answered(directory / "queries.jsonl"):
            continue  # queries judged by answer strings (MKQA) need no qrels
        if not (directory / name).is_file():
            splits = sorted(p.stem for p in (directory / "qrels").glob("*.tsv"))
            hint = f" (qrels for {', '.join(splits)}: choose one with --split)" if splits and name.startswith("qrels") else ""
            raise InputError(f"{directory} is not a BEIR directory: {name} is missing{hint}")
    # Benchmark texts are kept byte for byte (numbers must compare with those computed elsewhere).
    corpus = []
    for record in read_jsonl(directory / "corpus.jsonl", id_key="_id", clean=False, allow_empty=True):
        if not record.text.strip():  # BEIR documents may carry only a title
            title = str(record.metadata.get("title") or "")
            if not title.strip():
                raise InputError(f"{directory / 'corpus.jsonl'}: document {record.id!r} has neither text nor title")
            record = Record(record.id, title, record.metadata)
        corpus.append(record)
    queries = list(read_jsonl(directory / "queries.jsonl", id_key="_id", clean=False))
    qrels_path = directory / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():  # answer strings instead (checked above)
        return BeirData(corpus, queries, {})
    qrels = read_qrels(qrels_path)
    query_ids, doc_ids = {q.id for q in queries}, {d.id for d in corpus}
    for qid, judged in qrels.items():
        if qid not in query_ids:
            raise InputError(f"{qrels_path}: query {qid!r} is judged but not in queries.jsonl")
        missing = [d for d in judged if d not in doc_ids]
        if missing:
            raise InputError(f"{qrels_path}: query {qid!r} judges document {missing[0]!r}, which is not in corpus.jsonl")
    if not qrels:
        raise InputError(f"{qrels_path}: no judgements")
    return BeirData(corpus, queries, qrels)


def _answered(path: Path) -> bool:
    """Whether the first query of ``path`` carries ``answers`` (judged by answer strings)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            first = next((line for line in handle if line.strip()), "")
        return isinstance(json.loads(first).get("answers"), list) if first else False
    except (OSError, ValueError, AttributeError):
        return False
