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
    ('{"id": "a", "text": "x"}\n{"id": "n", "text": "x", "score": NaN}', r":2: NaN is not a JSON value"),
    ('{"id": "s", "text": "bad \\ud800 text"}', r":1: holds a lone surrogate escape \(\\ud800\)"),
    ('{"id": "e", "text": "  \\n "}', r":1: the text of 'e' is empty"),
    ('{"id": "z", "text": "\\u200f\\ufeff"}', r":1: the text of 'z' is empty"),
])
def test_bad_lines_are_named(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line)
    with pytest.raises(InputError, match=message):
        list(read_jsonl(path))


def test_a_byte_that_is_not_utf8_is_reported_on_its_own_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    good = "".join(f'{{"id": "{i}", "text": "fine"}}\n' for i in range(3)).encode()
    path.write_bytes(good + '{"id": "b", "text": "Espa\u00f1a"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.jsonl:4: not UTF-8 text \(invalid continuation byte at byte 25 of the line\)"):
        list(read_jsonl(path))


def test_bom_files_rtl_marks_and_decomposed_text_are_cleaned_unless_asked_not_to(tmp_path):
    path = tmp_path / "bom.jsonl"
    lines = ['{"id": "ar", "text": "\\ufeff\u0627\u0644\u0642\u0627\u0647\u0631\u0629\\u200f \u0645\u062f\u064a\u0646\u0629"}',
             '{"id": "fr", "text": "Cafe\\u0301 cre\\u0300me"}',
             '{"id": "fa", "text": "\u0645\u06cc\\u200c\u062e\u0648\u0627\u0647\u0645"}']
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8"))
    cleaned = {r.id: r.text for r in read_jsonl(path)}
    assert cleaned == {"ar": "\u0627\u0644\u0642\u0627\u0647\u0631\u0629 \u0645\u062f\u064a\u0646\u0629",
                       "fr": "Caf\u00e9 cr\u00e8me", "fa": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"}
    raw = {r.id: r.text for r in read_jsonl(path, clean=False)}
    assert raw["ar"].startswith("\ufeff") and "\u200f" in raw["ar"] and raw["fr"] == "Cafe\u0301 cre\u0300me"


def test_the_bundled_sample_carries_no_invisible_marks():
    from m3search.io.text import INVISIBLE

    for record in [*read_jsonl(SAMPLE_CORPUS, clean=False), *read_jsonl(SAMPLE_QUERIES, clean=False)]:
        assert not set(record.text) & set(INVISIBLE), record.id
