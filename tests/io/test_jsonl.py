from __future__ import annotations

import pytest

from m3search.errors import InputError
from m3search.io import SAMPLE_CORPUS, SAMPLE_QUERIES, read_jsonl


def test_sample_is_twelve_languages_of_eight_parallel_paragraphs():
    docs = list(read_jsonl(SAMPLE_CORPUS))
    assert len(docs) == 96
    assert len({d.metadata["lang"] for d in docs}) == 12
    assert len(list(read_jsonl(SAMPLE_QUERIES))) == 96


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}', r":2: duplicate id 'a'"),
    ('{"text": "x"}', r":1: 'id' must be a non-empty string"),
    ('{"id": "b", "text": 3}', r":1: 'text' of 'b' must be a string"),
    ('[1, 2]', r":1: expected a JSON object"),
    ('{"id": "c", ', r":1: not valid JSON"),
])
def test_bad_lines_are_named(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line)
    with pytest.raises(InputError, match=message):
        list(read_jsonl(path))
