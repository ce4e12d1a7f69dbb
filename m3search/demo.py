"""The README's main job: encode the bundled multilingual sample and search it."""

from __future__ import annotations

import numpy as np

from .data import SAMPLE_CORPUS, SAMPLE_QUERIES, read_jsonl
from .scoring import DEFAULT_WEIGHTS, colbert_scores, combine, dense_scores, sparse_scores

#: One query per script shown in full; all 96 sample queries count in the summary.
SHOWN = ("de", "ru", "zh", "ar", "hi", "th")


def run_demo(encoder, k: int = 3) -> int:
    """Encode the sample corpus, run the sample queries, print hits with per-mode scores."""
    docs = list(read_jsonl(SAMPLE_CORPUS))
    queries = list(read_jsonl(SAMPLE_QUERIES))
    parts = encoder.parts
    print(f"model {encoder.config.name}: parts {', '.join(parts)}; {len(docs)} documents in 12 languages")
    doc_emb = encoder.encode([d.text for d in docs], parts=parts, show_progress=True)
    query_emb = encoder.encode([q.text for q in queries], role="query", parts=parts)
    per_mode = {"dense": dense_scores(query_emb.dense, doc_emb.dense)}
    if "sparse" in parts:
        per_mode["sparse"] = sparse_scores(query_emb.sparse, doc_emb.sparse)
    if "colbert" in parts:
        per_mode["colbert"] = colbert_scores(query_emb.colbert, doc_emb.colbert)
    final = combine(per_mode, DEFAULT_WEIGHTS) if len(per_mode) > 1 else per_mode["dense"]
    shown = {lang: next(q for q in queries if q.metadata["lang"] == lang) for lang in SHOWN}
    index_of = {q.id: i for i, q in enumerate(queries)}
    for lang, query in shown.items():
        i = index_of[query.id]
        print(f"\n[{lang}] {query.text}")
        for rank, j in enumerate(np.argsort(-final[i])[:k], start=1):
            doc = docs[j]
            mark = "*" if doc.id.startswith(query.metadata["relevant"]) else " "
            scores = "  ".join(f"{m} {per_mode[m][i, j]:.3f}" for m in per_mode)
            snippet = doc.text.strip().replace("\n", " ")[:60]
            print(f" {rank}.{mark} {doc.id:<14} score {final[i, j]:.3f}  ({scores})  {snippet}")
    top1_relevant = sum(docs[int(np.argmax(final[i]))].id.startswith(q.metadata["relevant"]) for i, q in enumerate(queries))
    print(f"\n* = a paragraph that answers the query (in any language). "
          f"Top hit answers {top1_relevant}/{len(queries)} sample queries.")
    return 0
