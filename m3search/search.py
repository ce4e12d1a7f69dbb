"""The searcher: encode queries, take candidates per mode from the index, fuse, explain.

Modes:

- ``dense``, ``sparse``, ``colbert``: one representation alone (``colbert`` scans every
  document's vectors: exact but slow on large indexes);
- ``dense+sparse``: candidates from dense and from sparse (``candidates`` each), every
  candidate scored exactly in both modes, final = ``(w_d * dense + w_s * sparse) / (w_d + w_s)``;
- ``all``: as ``dense+sparse``, plus the exact multi-vector score of every candidate, final =
  ``(w_d * dense + w_s * sparse + w_c * colbert) / (w_d + w_s + w_c)`` (the paper's "All");
- ``rrf``: reciprocal rank fusion of the dense and sparse candidate lists (and the multi-vector
  ranking of their union when the index holds it).

Final scores are divided by the weight sum, as the reference's ``compute_score`` does, so that
they stay on the scale of the per-mode scores; rankings are the same either way. Default
weights are the paper's (1, 0.3, 1). This module imports no torch: an index searched with
precomputed query embeddings (:meth:`Searcher.search_embeddings`) never loads it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .errors import ConfigurationError
from .fusion import RRF_K, reciprocal_rank_fusion
from .index import Index
from .scoring import DEFAULT_WEIGHTS, combine
from .types import Embeddings, Explanation, Hit, TokenMatch

MODES = ("dense", "sparse", "colbert", "dense+sparse", "all", "rrf")
#: Parts each mode needs from the index and the query.
MODE_PARTS = {
    "dense": ("dense",), "sparse": ("sparse",), "colbert": ("colbert",),
    "dense+sparse": ("dense", "sparse"), "all": ("dense", "sparse", "colbert"), "rrf": ("dense", "sparse"),
}
EXPLAIN_TOKENS = 8


def modes_for(parts: Sequence[str]) -> list[str]:
    """The score-fusion modes (all but ``rrf``) that an encoder or index with ``parts`` supports.

    >>> modes_for(["dense", "sparse"])
    ['dense', 'sparse', 'dense+sparse']
    """
    return [m for m in MODES if m != "rrf" and all(p in parts for p in MODE_PARTS[m])]

Run = dict[str, dict[str, float]]


class Searcher:
    """Search an :class:`~m3search.index.Index` with an encoder.

    ``encoder`` may be ``None`` when queries arrive as embeddings, or a zero-argument callable
    that returns the encoder, to load it (and torch) only when a text must be encoded.
    """

    def __init__(
        self,
        encoder: Any,
        index: Index,
        *,
        mode: str | None = None,
        weights: Mapping[str, float] | None = None,
        candidates: int = 100,
        rrf_k: int = RRF_K,
    ) -> None:
        self._encoder = encoder
        self.index = index
        self.weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        self.mode = mode or self.default_mode(index)
        self._check_mode(self.mode)
        if candidates < 1:
            raise ConfigurationError(f"candidates must be >= 1, got {candidates}")
        self.candidates = candidates
        self.rrf_k = rrf_k

    @staticmethod
    def default_mode(index: Index) -> str:
        """``all`` when the index holds all three parts, else ``dense+sparse``, else ``dense``."""
        for mode in ("all", "dense+sparse", "dense", "sparse", "colbert"):
            if all(p in index.parts for p in MODE_PARTS[mode]):
                return mode
        raise ConfigurationError(f"index holds no searchable part: {index.parts}")

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            raise ConfigurationError("this searcher has no encoder: pass query embeddings to search_embeddings()")
        if callable(self._encoder) and not hasattr(self._encoder, "encode"):
            self._encoder = self._encoder()
        return self._encoder

    # ------------------------------------------------------------------ public API
    def search(
        self,
        queries: Sequence[str],
        k: int = 10,
        *,
        mode: str | None = None,
        filter: Mapping[str, Any] | None = None,
        explain: bool = False,
        exact: bool = False,
    ) -> list[list[Hit]]:
        """Hits for each query text, best first, with per-mode scores (and explanations)."""
        if isinstance(queries, str):
            raise TypeError("queries must be a list of strings, not a single string: wrap it in a list")
        mode = mode or self.mode
        self._check_mode(mode)
        optional = ("sparse", "colbert") if explain else ("colbert",) if mode == "rrf" else ()
        parts = tuple(p for p in self.index.parts if p in MODE_PARTS[mode] or p in optional)
        embeddings = self.encoder.encode(list(queries), role="query", parts=parts)
        return self.search_embeddings(embeddings, k, mode=mode, filter=filter, exact=exact,
                                      explain_texts=list(queries) if explain else None)

    def search_embeddings(
        self,
        queries: Embeddings,
        k: int = 10,
        *,
        mode: str | None = None,
        filter: Mapping[str, Any] | None = None,
        exact: bool = False,
        fetch_documents: bool = True,
        explain_texts: Sequence[str] | None = None,
    ) -> list[list[Hit]]:
        """Hits for encoded queries. ``explain_texts`` (the query texts) adds explanations."""
        mode = mode or self.mode
        self._check_mode(mode)
        if k < 1:
            raise ConfigurationError(f"k must be >= 1, got {k}")
        missing = [p for p in MODE_PARTS[mode] if getattr(queries, p) is None]
        if missing:
            raise ConfigurationError(f"mode {mode!r} needs the query's {missing} part(s)")
        if mode in ("dense", "sparse", "colbert"):
            ranked = [
                [(s.doc_id, s.score, {mode: s.score}) for s in hits]
                for hits in self.index.query(mode, queries, k, filter=filter, exact=exact)
            ]
        else:
            ranked = self._fused(mode, queries, k, filter, exact)
        if not fetch_documents:
            return [[Hit(doc_id, score, scores) for doc_id, score, scores in hits] for hits in ranked]
        return self._documents(ranked, queries, explain_texts)

    def run(self, queries: Mapping[str, str], k: int = 100, **options: Any) -> Run:
        """``{query_id: {doc_id: score}}`` for evaluation."""
        qids = list(queries)
        hits = self.search([queries[q] for q in qids], k, **options) if qids else []
        return {qid: {h.id: h.score for h in result} for qid, result in zip(qids, hits)}

    # ------------------------------------------------------------------ fusion
    def _fused(self, mode: str, queries: Embeddings, k: int, filter: Mapping[str, Any] | None,
               exact: bool) -> list[list[tuple[str, float, dict[str, float]]]]:
        depth = max(self.candidates, k)
        dense_hits = self.index.query("dense", queries, depth, filter=filter, exact=exact)
        sparse_hits = self.index.query("sparse", queries, depth, filter=filter, exact=exact)
        unions: list[list[str]] = []
        doc_of: dict[str, str] = {}
        for d_hits, s_hits in zip(dense_hits, sparse_hits):
            seen: dict[str, None] = {}
            for s in list(d_hits) + list(s_hits):
                seen.setdefault(s.pid)
                doc_of[s.pid] = s.doc_id
            unions.append(list(seen))
        score_parts = ["dense", "sparse"]
        if mode in ("all", "rrf") and "colbert" in self.index.parts and queries.colbert is not None:
            score_parts.append("colbert")
        exact_scores = {
            part: [{s.pid: s.score for s in hits} for hits in
                   self.index.query(part, queries, max(1, max(map(len, unions), default=1)), restrict_to=unions, exact=True)]
            for part in score_parts
        }
        out = []
        for i, union in enumerate(unions):
            per_doc = {pid: {part: exact_scores[part][i].get(pid, 0.0) for part in score_parts} for pid in union}
            if mode == "rrf":
                rankings = [[s.pid for s in dense_hits[i]], [s.pid for s in sparse_hits[i]]]
                if "colbert" in score_parts:
                    rankings.append(sorted(union, key=lambda p: (-round(per_doc[p]["colbert"], 6), doc_of[p])))
                final = reciprocal_rank_fusion(rankings, self.rrf_k)
            else:
                parts = MODE_PARTS[mode]
                values = combine({p: np.array([per_doc[pid][p] for pid in union]) for p in parts}, self.weights)
                final = dict(zip(union, values.tolist()))
            best = sorted(union, key=lambda p: (-final[p], doc_of[p]))[:k]
            out.append([(doc_of[p], float(final[p]), per_doc[p]) for p in best])
        return out

    # ------------------------------------------------------------------ documents and explanations
    def _documents(self, ranked, queries: Embeddings, explain_texts: Sequence[str] | None) -> list[list[Hit]]:
        wanted = list(dict.fromkeys(doc_id for hits in ranked for doc_id, _, _ in hits))
        explain = explain_texts is not None
        documents = dict(zip(wanted, self.index.get(wanted, with_vectors=explain)))
        results = []
        for i, hits in enumerate(ranked):
            row = []
            for doc_id, score, scores in hits:
                doc = documents.get(doc_id)
                explanation = self._explain(queries, i, explain_texts[i], doc) if explain and doc is not None else None
                row.append(Hit(doc_id, score, scores, doc.text if doc else None, doc.metadata if doc else {}, explanation))
            results.append(row)
        return results

    def _explain(self, queries: Embeddings, i: int, query_text: str, doc) -> Explanation:
        encoder = self.encoder
        sparse: list[TokenMatch] = []
        if queries.sparse is not None and doc.sparse is not None:
            q = queries.sparse[i]
            shared, q_pos, d_pos = np.intersect1d(q.ids, doc.sparse.ids, return_indices=True)
            products = q.weights[q_pos] * doc.sparse.weights[d_pos]
            for j in np.argsort(-products)[:EXPLAIN_TOKENS]:
                token = encoder.decode_token(int(shared[j]))
                sparse.append(TokenMatch(token, token, float(products[j])))
        colbert: list[TokenMatch] = []
        if queries.colbert is not None and doc.colbert is not None and doc.text is not None:
            q_tokens = encoder.tokenize([query_text], role="query")[0][1:]
            d_tokens = encoder.tokenize([doc.text], role="document")[0][1:]
            sims = queries.colbert[i] @ doc.colbert.T
            for qi, dj in enumerate(sims.argmax(axis=1)):
                if qi < len(q_tokens) and dj < len(d_tokens):
                    colbert.append(TokenMatch(encoder.decode_token(q_tokens[qi]), encoder.decode_token(d_tokens[dj]),
                                              float(sims[qi, dj])))
        return Explanation(tuple(sparse), tuple(colbert))

    def _check_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ConfigurationError(f"unknown mode {mode!r}; choose from {list(MODES)}")
        missing = [p for p in MODE_PARTS[mode] if p not in self.index.parts]
        if missing:
            raise ConfigurationError(f"mode {mode!r} needs {missing}, but this index holds only {list(self.index.parts)}")
