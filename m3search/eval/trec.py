"""TREC run files: ``qid Q0 docid rank score tag`` per line (no torch)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from ..errors import InputError
from .beir import write_lines


def write_trec_run(path: str | Path, run: Mapping[str, Mapping[str, float]], tag: str = "m3search") -> None:
    """Write a run as TREC lines, ranked by score within each query."""
    def lines() -> Iterator[str]:
        for qid, docs in run.items():
            for rank, (doc, score) in enumerate(sorted(docs.items(), key=lambda x: -x[1]), start=1):
                yield f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n"

    write_lines(Path(path), lines())


def read_trec_run(path: str | Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    with open(path, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 6:
                raise InputError(f"{path}:{number}: a TREC run line has 6 fields, got {len(fields)}")
            run.setdefault(fields[0], {})[fields[2]] = float(fields[4])
    return run
