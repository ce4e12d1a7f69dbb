"""Scores for each matching mode and their weighted combination: pure numpy, no torch.

Each function equals its counterpart in the reference implementation (FlagEmbedding):

- :func:`dense_scores`: ``q @ p.T`` (cosine, both sides are L2-normalised);
- :func:`lexical_matching_score` / :func:`sparse_scores`: ``sum_{t in q and p} q[t] * p[t]``,
  accumulated in float32 (the reference keeps fp16 scalars: see bge-m3.md §6.9);
- :func:`colbert_score` / :func:`colbert_scores`: ``mean_i max_j q_i . p_j`` over the query's
  vectors (MaxSim averaged over query tokens);
- :func:`combine`: ``sum_m w_m * s_m / sum_m w_m``, as ``compute_score`` divides by the weight sum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from .errors import ConfigurationError, InputError
from .types import Embeddings, Ragged, SparseBatch, SparseVector

T = TypeVar("T")

#: The paper's weights for dense, sparse and multi-vector (M3 §3.2, Table 1's "All").
DEFAULT_WEIGHTS: dict[str, float] = {"dense": 1.0, "sparse": 0.3, "colbert": 1.0}
#: The weights for documents encoded in windows (``long_strategy="windows"``): a document's
#: lexical weights are the maximum over all its windows and share some term with almost any
#: query (sparse alone: 0.32 nDCG@10 on long-es), while MaxSim over every window's rows is the
#: strongest mode. Chosen on half of long-es's questions by ``benchmarks/window_weights.py``
#: (docs/results/offline-model.md, "long-es"): no sparse, the multi-vector score six times dense.
WINDOWS_WEIGHTS: dict[str, float] = {"dense": 1.0, "sparse": 0.0, "colbert": 6.0}


def default_weights(identity: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The fusion weights for the documents of the encoder ``identity`` describes: those for
    windowed documents where its ``long_strategy`` is ``windows``, else the paper's.

    >>> default_weights({"long": {"long_strategy": "windows"}}) == WINDOWS_WEIGHTS, default_weights(None)
    (True, {'dense': 1.0, 'sparse': 0.3, 'colbert': 1.0})
    """
    windowed = dict((identity or {}).get("long") or {}).get("long_strategy") == "windows"
    return dict(WINDOWS_WEIGHTS if windowed else DEFAULT_WEIGHTS)


def dense_scores(queries: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """Inner products of every query with every document, shape ``(m, n)``.

    >>> dense_scores(np.array([[1.0, 0.0]]), np.array([[0.5, 0.75], [0.0, 1.0]])).tolist()
    [[0.5, 0.0]]
    """
    return np.asarray(queries, dtype=np.float32) @ np.asarray(documents, dtype=np.float32).T


def lexical_matching_score(
    query: SparseVector | Mapping[int, float], document: SparseVector | Mapping[int, float]
) -> float:
    """Sum of weight products over the token ids both sides share.

    >>> round(lexical_matching_score({1: 0.5, 2: 0.5}, {2: 0.4, 7: 1.0}), 4)
    0.2
    """
    q = query.to_dict() if isinstance(query, SparseVector) else query
    d = document.to_dict() if isinstance(document, SparseVector) else document
    total = np.float32(0.0)
    for token, weight in q.items():
        if token in d:
            total += np.float32(weight) * np.float32(d[token])
    return float(total)


def sparse_scores(queries: SparseBatch, documents: SparseBatch) -> np.ndarray:
    """Lexical matching score of every query with every document, shape ``(m, n)``.

    >>> q = SparseBatch.from_vectors([SparseVector(np.array([1, 2]), np.array([.5, .5], np.float32))])
    >>> d = SparseBatch.from_vectors([SparseVector(np.array([2, 7]), np.array([.4, 1.], np.float32)),
    ...                               SparseVector(np.array([3]), np.array([1.], np.float32))])
    >>> sparse_scores(q, d).astype(float).round(4).tolist()
    [[0.2, 0.0]]
    """
    n_docs = len(documents)
    doc_rows = np.repeat(np.arange(n_docs), np.diff(documents.indptr))
    out = np.zeros((len(queries), n_docs), dtype=np.float32)
    for i, query in enumerate(queries):
        if len(query) == 0 or len(documents.indices) == 0:
            continue
        pos = np.searchsorted(query.ids, documents.indices)
        pos_clipped = np.minimum(pos, len(query.ids) - 1)
        hit = query.ids[pos_clipped] == documents.indices
        products = np.where(hit, query.weights[pos_clipped] * documents.values, np.float32(0.0))
        out[i] = np.bincount(doc_rows, weights=products, minlength=n_docs)
    return out


def colbert_score(query: np.ndarray, document: np.ndarray) -> float:
    """MaxSim of one query's vectors against one document's, averaged over query vectors.

    >>> round(colbert_score(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.6, 0.8]])), 4)
    0.9
    """
    if len(query) == 0 or len(document) == 0:
        return 0.0
    sims = np.asarray(query, dtype=np.float32) @ np.asarray(document, dtype=np.float32).T
    return float(sims.max(axis=1).sum() / len(query))


def colbert_scores(queries: Ragged, documents: Ragged) -> np.ndarray:
    """:func:`colbert_score` of every query with every document, shape ``(m, n)``.

    >>> q = Ragged.from_arrays([np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)])
    >>> d = Ragged.from_arrays([np.array([[1.0, 0.0], [0.6, 0.8]], np.float32), np.array([[0.0, 1.0]], np.float32)])
    >>> colbert_scores(q, d).astype(float).round(4).tolist()
    [[0.9, 0.5]]
    """
    out = np.zeros((len(queries), len(documents)), dtype=np.float32)
    lengths = documents.lengths
    nonempty = np.flatnonzero(lengths > 0)
    if len(nonempty) == 0:
        return out
    starts = documents.offsets[:-1][nonempty]
    for i, query in enumerate(queries):
        if len(query) == 0:
            continue
        sims = query @ documents.data.T  # (t_q, total_doc_tokens)
        best = np.maximum.reduceat(sims, starts, axis=1)  # (t_q, n_nonempty)
        out[i, nonempty] = best.sum(axis=0) / len(query)
    return out


def combine(scores: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted sum of per-mode scores divided by the weight sum (as ``compute_score`` does).

    Only the modes present in ``scores`` take part, so ``{dense, sparse}`` with the default
    weights gives ``(1*d + 0.3*s) / 1.3``.

    >>> combine({"dense": np.array([0.5]), "sparse": np.array([0.1])}, {"dense": 1, "sparse": 0.3}).astype(float).round(4).tolist()
    [0.4077]
    """
    modes = list(scores)
    if not modes:
        raise ConfigurationError("combine() needs at least one mode's scores")
    missing = [m for m in modes if m not in weights]
    if missing:
        raise ConfigurationError(f"no weight given for mode(s) {missing}; weights cover {sorted(weights)}")
    total_weight = float(sum(weights[m] for m in modes))
    if total_weight == 0:
        raise ConfigurationError(f"weights for {modes} sum to zero")
    total = sum(np.asarray(scores[m], dtype=np.float32) * np.float32(weights[m]) for m in modes)
    return np.asarray(total / np.float32(total_weight), dtype=np.float32)


def pair_scores(
    queries: Embeddings, documents: Embeddings, weights: Mapping[str, float] | None = None
) -> dict[str, np.ndarray]:
    """Scores of aligned (query i, document i) pairs, keyed as the reference's ``compute_score``.

    Returns ``dense``, ``sparse``, ``colbert`` (those both batches hold), and where the parts
    allow, ``sparse+dense`` and ``colbert+sparse+dense`` combined with ``weights``
    (default :data:`DEFAULT_WEIGHTS`).
    """
    if len(queries) != len(documents):
        raise InputError(f"{len(queries)} queries but {len(documents)} documents: pairs must align")
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    out: dict[str, np.ndarray] = {}
    if queries.dense is not None and documents.dense is not None:
        out["dense"] = np.einsum("ij,ij->i", queries.dense, documents.dense).astype(np.float32)
    if queries.sparse is not None and documents.sparse is not None:
        out["sparse"] = np.array(
            [lexical_matching_score(q, d) for q, d in zip(queries.sparse, documents.sparse)], dtype=np.float32
        )
    if queries.colbert is not None and documents.colbert is not None:
        out["colbert"] = np.array(
            [colbert_score(q, d) for q, d in zip(queries.colbert, documents.colbert)], dtype=np.float32
        )
    if "dense" in out and "sparse" in out:
        out["sparse+dense"] = combine({m: out[m] for m in ("dense", "sparse")}, weights)
        if "colbert" in out:
            out["colbert+sparse+dense"] = combine({m: out[m] for m in ("dense", "sparse", "colbert")}, weights)
    return out


#: Scores closer than this are a tie: the engine (float32 SIMD) and numpy sum in different orders.
TIE_TOLERANCE = 1e-6


def rank_with_ties(items: Sequence[T], score: Callable[[T], float], name: Callable[[T], str],
                   tolerance: float = TIE_TOLERANCE) -> list[T]:
    """``items`` by descending score; scores within ``tolerance`` below the best of their group tie,
    and ties go to the smallest name, as brute force over exact scores does.

    Rounding to a fixed number of decimals is not enough: two computations of one tie that fall on
    either side of a rounding boundary would order differently.

    >>> rank_with_ties([("b", 0.5), ("a", 0.5000001), ("c", 0.9)], lambda x: x[1], lambda x: x[0])
    [('c', 0.9), ('a', 0.5000001), ('b', 0.5)]
    """
    ordered = sorted(items, key=score, reverse=True)
    groups: list[list[T]] = []
    top = None
    for item in ordered:  # a group spans at most ``tolerance`` below its best score (no chains)
        value = score(item)
        if top is None or top - value > tolerance:
            groups.append([])
            top = value
        groups[-1].append(item)
    return [item for group in groups for item in sorted(group, key=name)]
