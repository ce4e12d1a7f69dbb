"""Small BEIR directories for evaluation tests: judged by qrels (two languages), by answer
strings (MKQA style), and grouped by answer position."""

from __future__ import annotations

from pathlib import Path

from m3search.eval.beir import write_beir
from m3search.io.jsonl import Record

DOCS = (
    ("d1", "The Nile is the longest river in Africa and flows north into the Mediterranean.", "en"),
    ("d2", "The Amazon river carries more water than any other river in the world.", "en"),
    ("d3", "Mount Everest is the highest mountain on Earth, on the border of Nepal and China.", "en"),
    ("d4", "Mount Kilimanjaro is the highest mountain in Africa.", "en"),
    ("d5", "Der Rhein fließt durch Deutschland und mündet in die Nordsee.", "de"),
    ("d6", "Die Donau fließt durch Wien und mündet in das Schwarze Meer.", "de"),
    ("d7", "Die Zugspitze ist der höchste Berg Deutschlands.", "de"),
    ("d8", "Paris is the capital of France and sits on the river Seine.", "en"),
)
QUERIES = (
    ("q1", "longest river in Africa", "en", {"d1": 1}),
    ("q2", "highest mountain in Africa", "en", {"d4": 1, "d3": 0}),
    ("q3", "which river carries the most water", "en", {"d2": 1}),
    ("q4", "Welcher Fluss mündet in die Nordsee?", "de", {"d5": 1}),
    ("q5", "höchster Berg Deutschlands", "de", {"d7": 1}),
    ("q6", "Fluss durch Wien", "de", {"d6": 1}),
)


def write_tiny_beir(directory: Path) -> Path:
    """Eight documents, six queries in English and German (a ``lang`` field), graded qrels."""
    write_beir(directory, [Record(i, t, {"lang": lang}) for i, t, lang in DOCS],
               [Record(i, t, {"lang": lang}) for i, t, lang, _ in QUERIES], {i: qrels for i, _, _, qrels in QUERIES})
    return directory


def write_answer_beir(directory: Path) -> Path:
    """The same documents; queries judged by answer strings found in the retrieved texts (no qrels)."""
    queries = [Record("a1", "longest river in Africa", {"answers": ["Nile"]}),
               Record("a2", "capital of France", {"answers": ["Paris"]}),
               Record("a3", "höchster Berg Deutschlands", {"answers": ["Zugspitze"]})]
    write_beir(directory, [Record(i, t, {}) for i, t, _ in DOCS], queries, {})
    (directory / "qrels" / "test.tsv").unlink()
    return directory


def write_position_beir(directory: Path) -> Path:
    """Qrels queries carrying the ``position`` bucket of their answer (as ``long-es`` does)."""
    positions = ("0-2k", "2-8k", "0-2k", ">20k", "2-8k", "8-20k")
    write_beir(directory, [Record(i, t, {}) for i, t, _ in DOCS],
               [Record(i, t, {"position": p}) for (i, t, _, _), p in zip(QUERIES, positions)],
               {i: qrels for i, _, _, qrels in QUERIES})
    return directory
