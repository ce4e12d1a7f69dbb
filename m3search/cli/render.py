"""Hits as a readable table or as JSON (no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..types import Hit

MODE_ORDER = ("dense", "sparse", "colbert")


def snippet(text: str | None, width: int = 60) -> str:
    """One line of at most ``width`` characters.

    >>> snippet("  a\\nlong   text ", 8)
    'a long…'
    """
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 2].rstrip() + "…"


def print_hits(queries: Sequence[str], results: Sequence[Sequence[Hit]], mode: str) -> None:
    for query, hits in zip(queries, results):
        print(f"\n{query}   [mode {mode}]")
        # with a rerank stage: each part's score, the first stage's, and the cross-encoder's
        order = (*MODE_ORDER, mode, "rerank") if any("rerank" in h.scores for h in hits) else MODE_ORDER
        modes = [m for m in dict.fromkeys(order) if any(m in h.scores for h in hits)]
        print(f"{'#':>3}  {'id':<16}{'score':>8}" + "".join(f"{m:>9}" for m in modes) + "  text")
        for rank, hit in enumerate(hits, start=1):
            per_mode = "".join(f"{hit.scores[m]:>9.3f}" if m in hit.scores else f"{'':>9}" for m in modes)
            lang = f"[{hit.metadata['lang']}] " if "lang" in hit.metadata else ""
            print(f"{rank:>3}  {hit.id:<16}{hit.score:>8.3f}{per_mode}  {lang}{snippet(hit.text)}")
            if hit.explanation is not None:
                if hit.explanation.dense_window is not None:
                    print(f"{'':>5}dense   best window {hit.explanation.dense_window + 1} of {hit.explanation.dense_windows}")
                if hit.explanation.sparse:
                    shared = ", ".join(f"{m.query_token} {m.score:.3f}" for m in hit.explanation.sparse)
                    print(f"{'':>5}sparse  {shared}")
                if hit.explanation.colbert:
                    pairs = ", ".join(f"{m.query_token}→{m.document_token} {m.score:.2f}" for m in hit.explanation.colbert)
                    print(f"{'':>5}colbert {pairs}")
        if not hits:
            print("     (no hits)")


def hits_to_json(queries: Sequence[str], results: Sequence[Sequence[Hit]], mode: str) -> list[dict[str, Any]]:
    return [{"query": q, "mode": mode, "hits": [h.to_dict() for h in hits]} for q, hits in zip(queries, results)]
