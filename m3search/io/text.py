"""Text hygiene at ingestion: invisible marks out, Unicode composed (no torch).

Real corpora carry characters nobody typed on purpose: XQuAD paragraphs start with a byte-order
mark (U+FEFF) in up to 9 of 240 paragraphs per language, and Arabic ones carry right-to-left
marks (U+200F). They end up in payloads, snippets and explanations, and a query typed without
them would not match them lexically. :func:`clean_text` therefore, by default:

- removes U+FEFF (byte-order mark / zero-width no-break space), U+200B (zero-width space),
  U+2060 (word joiner), U+00AD (soft hyphen) and the bidirectional marks and controls
  (U+200E, U+200F, U+061C, U+202A-U+202E, U+2066-U+2069): they carry no letters;
- keeps U+200C and U+200D (zero-width non-joiner and joiner), which change how Persian,
  Indic scripts and emoji are written and read;
- normalises to NFC (composed characters), so that ``é`` typed as ``e`` + U+0301 equals ``é``.

Whitespace is left as it is (the tokenizers handle it). ``m3search index`` and ``encode``
apply it unless given ``--raw-text``; :func:`~m3search.io.read_jsonl` takes ``clean=False``.

>>> clean_text("\\ufeffAl-\\u200fQahira caf\\u0065\\u0301")
'Al-Qahira café'
>>> clean_text("\\u0645\\u06cc\\u200c\\u062e\\u0648\\u0627\\u0647\\u0645") == "\\u0645\\u06cc\\u200c\\u062e\\u0648\\u0627\\u0647\\u0645"
True
"""

from __future__ import annotations

import re
import unicodedata

#: Invisible characters removed by :func:`clean_text` (the joiners U+200C/U+200D are kept).
INVISIBLE = "\ufeff\u200b\u2060\u00ad\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")


def clean_text(text: str) -> str:
    """``text`` without invisible marks, in NFC (see the module's description)."""
    return unicodedata.normalize("NFC", _INVISIBLE_RE.sub("", text))


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (``"\\ud800"`` from a JSON escape): not UTF-8, so no
    engine or file can store it.

    >>> has_lone_surrogate("ok"), has_lone_surrogate("bad \\ud800")
    (False, True)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
