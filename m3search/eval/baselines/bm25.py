"""BM25 baseline through ``bm25s``, with a tokenizer that handles scripts without spaces.

Words are lower-cased runs of letters and digits; runs in a script written without spaces
(Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) become overlapping character bigrams, the
usual choice for CJK retrieval, which also works tolerably for Thai.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...protocols import EncoderLike

_NO_SPACE = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_NO_SPACE}]+|[^\W_{_NO_SPACE}]+", re.UNICODE)
_NO_SPACE_RUN = re.compile(rf"[{_NO_SPACE}]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased words, and character bigrams for scripts written without spaces.

    >>> tokenize("Der Everest, 8848 m! 珠穆朗玛峰")
    ['der', 'everest', '8848', 'm', '珠穆', '穆朗', '朗玛', '玛峰']
    >>> tokenize("ภาษาไทย")[:2]
    ['ภา', 'าษ']
    """
    tokens: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        word = match.group()
        if _NO_SPACE_RUN.fullmatch(word):
            tokens.extend(word[i : i + 2] for i in range(max(1, len(word) - 1)))
        else:
            tokens.append(word)
    return tokens


def model_tokenizer(encoder: EncoderLike) -> Callable[[str], list[str]]:
    """A model's own subword tokens (no prefix, no special tokens), as strings: BM25 over them is
    the paper's "BM25 with the XLM-R tokenizer" row."""

    def by_encoder(text: str) -> list[str]:
        return [str(i) for i in encoder.content_tokens(text)]

    return by_encoder


class BM25:
    """``bm25s`` (Lucene's BM25 variant, k1 = 1.5, b = 0.75) over :func:`tokenize` (or another tokenizer)."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str],
                 tokenizer: Callable[[str], list[str]] | None = None) -> None:
        import bm25s

        self.tokenize = tokenizer or tokenize
        self.ids = list(ids)
        self._retriever = bm25s.BM25()
        quiet = logging.getLogger("bm25s")  # bm25s logs every index build at DEBUG with its own handler
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        try:
            self._retriever.index([self.tokenize(t) for t in texts], show_progress=False)
        finally:
            quiet.setLevel(level)

    def run(self, query_ids: Sequence[str], queries: Sequence[str], k: int = 100) -> dict[str, dict[str, float]]:
        """``{qid: {docid: score}}`` of the ``k`` best documents per query (fewer if fewer match)."""
        k = min(k, len(self.ids))
        docs, scores = self._retriever.retrieve([self.tokenize(q) or ["\u0000"] for q in queries], k=k,
                                                show_progress=False)
        return {
            qid: {self.ids[int(d)]: float(s) for d, s in zip(row_docs, row_scores) if s > 0}
            for qid, row_docs, row_scores in zip(query_ids, docs, scores)
        }
