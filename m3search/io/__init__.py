"""Files in and out (no torch): JSONL records, embeddings files, atomic writes, the bundled sample."""

from __future__ import annotations

from pathlib import Path

from .atomic import atomic_write, atomic_write_text
from .jsonl import Record, iter_json_lines, read_jsonl, write_jsonl

SAMPLES = Path(__file__).parent / "samples"
#: The first paragraph of 8 XQuAD articles in 12 languages (CC BY-SA 4.0), and one question each.
SAMPLE_CORPUS = SAMPLES / "xquad-sample.jsonl"
SAMPLE_QUERIES = SAMPLES / "xquad-sample-queries.jsonl"

__all__ = [
    "SAMPLE_CORPUS", "SAMPLE_QUERIES", "Record", "atomic_write", "atomic_write_text", "iter_json_lines",
    "read_jsonl", "write_jsonl",
]
