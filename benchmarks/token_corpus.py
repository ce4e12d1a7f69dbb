"""Synthetic documents whose three representations come from one token sequence, so that the
first stages find what the multi-vector rows rank first about as often as they do on real text.

``benchmarks/search.py``'s first generator draws each part on its own: the lexical weights are
random token ids, and the multi-vector rows are the dense direction plus independent noise. On
real text the parts agree: a document whose rows match a query's rows shares its words (the
sparse stage sees them) and its subject (the dense stage sees it). Here a document is a topic,
its own direction, and a sequence of tokens drawn from words common to every topic and words of
its topic (Zipf-distributed); each token has one vector, shared by every document it occurs in:

- **rows**: ``normalise(ANISOTROPY * g + token vector + CONTEXT * the document's direction + noise)``,
  one per token of the first ``len // pool_factor`` of its sequence (the tokens are independent
  draws, so these stand for the pooled rows; the other tokens count in its weights and dense
  vector only), ``g`` a direction every row shares (real rows are anisotropic);
- **sparse**: one weight per distinct token, higher for rarer words (the head learns an
  IDF-like weighting);
- **dense**: ``normalise(DENSE_COMMON * G + the document's direction + TOKENS * its words'
  vectors)``, the words' vectors lifted from the rows' width to 384;
- **a query** for a document: 20 tokens, 8 of them distinct words of the document (rarer ones
  more often; each left out of the query's weights with probability 0.4, as a word written
  another way), the rest words of every text and of its topic; its rows, weights and dense
  vector are built the same way from them, its direction the document's, perturbed.

The constants were fitted, at pool factor 2 and 128-wide rows, so that on 19,313 documents the
score distributions and the share of ``colbert``'s and ``all``'s exact top 10 within the dense
and sparse stages' candidates come near the offline compact model's on 19,313 real paragraphs
(``benchmarks/generator_fit.py`` prints both side by side). The world is fixed (2,048 subjects):
a larger collection holds more documents per subject, which is what a benchmark at 1M asks of
the first stages, but which no real collection here can confirm. Every array is a deterministic function of the ``rng`` it is given, so chunks are
regenerated for the exact answers as in the first generator.

>>> import numpy as np
>>> docs, sources = token_docs(3, np.random.default_rng(0), colbert_dim=16)
>>> docs.dense.shape, docs.colbert.dim, len(sources.offsets) - 1
((3, 384), 16, 3)
>>> bool(np.allclose(np.linalg.norm(docs.colbert.data.astype(np.float32), axis=1), 1, atol=1e-3))
True
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from m3search.types import Embeddings, Ragged, SparseBatch, SparseVector

DIM, VOCAB = 384, 250_002
#: broad topics, each split into finer subjects (a document belongs to one subject)
TOPICS, SUBJECTS = 64, 32
#: token ids: COMMON words of every text, then TOPIC_WORDS per topic, then SUBJECT_WORDS per subject
COMMON, TOPIC_WORDS, SUBJECT_WORDS = 2_000, 800, 90
#: the shares of a document's tokens that are common and topic words (the rest: its subject's)
COMMON_SHARE, TOPIC_SHARE = 0.45, 0.25
#: the Zipf exponent of each kind of word
COMMON_ZIPF, TOPIC_ZIPF, SUBJECT_ZIPF = 1.2, 1.1, 1.1
#: a document's direction: its topic's centre (norm 1), its subject's offset, its own
SUBJECT_SPREAD, OWN_SPREAD = 0.7, 0.7
#: tokens per document (before pooling): log-normal around the real paragraphs' median
ROWS_MEDIAN, ROWS_SIGMA = 190.0, 0.406
#: a row: the shared direction, the token's vector (norm 1), the document's direction, noise
ANISOTROPY, CONTEXT, ROW_NOISE = 0.7, 1.3, 0.4
#: a dense vector: the shared direction, the document's direction (norm 1), its words' vectors
DENSE_COMMON, TOKENS = 2.0, 0.9
#: a query: its tokens, the share of them taken from its document, and its direction's noise
QUERY_TOKENS, QUERY_OVERLAP, QUERY_NOISE = 20, 0.4, 0.6
#: the share of a query's words from its document that its lexical weights miss
QUERY_SOFT = 0.4


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _world(colbert_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What every document shares (fixed seed): subject centres, token vectors, the rows' and the
    dense vectors' common directions, and each token id's base lexical weight."""
    rng = np.random.default_rng(12345)
    topics = _normalise(rng.normal(size=(TOPICS, DIM)))
    offsets = rng.normal(size=(TOPICS, SUBJECTS, DIM)) / np.sqrt(DIM) * SUBJECT_SPREAD
    centres = (topics[:, None, :] + offsets).reshape(TOPICS * SUBJECTS, DIM).astype(np.float32)
    vectors = _normalise(rng.standard_normal((len(_base_weights()), colbert_dim), dtype=np.float32))
    row_common = _normalise(rng.normal(size=colbert_dim))
    dense_common = _normalise(rng.normal(size=DIM))
    return centres, vectors, row_common, dense_common, _base_weights()


@functools.lru_cache(maxsize=1)
def _base_weights() -> np.ndarray:
    """Each token id's base lexical weight: rarer words weigh more (an IDF-like head), by kind
    (common, topic, subject words), then by rank within the kind."""
    kinds = [(COMMON, 1, 0.02, 0.06), (TOPIC_WORDS, TOPICS, 0.10, 0.12), (SUBJECT_WORDS, TOPICS * SUBJECTS, 0.18, 0.12)]
    return np.concatenate([np.tile(low + spread * np.arange(n) / n, k) for n, k, low, spread in kinds]).astype(np.float32)


def _draw_tokens(subjects: np.ndarray, rng: np.random.Generator, subject_share: float | None = None) -> np.ndarray:
    """One token id per entry of ``subjects`` (the subject of the text it belongs to); words of
    the subject itself make ``subject_share`` of them (default: what COMMON_SHARE and
    TOPIC_SHARE leave), topic words keep their share of the rest."""
    n = len(subjects)
    kind = rng.random(n)
    common = np.minimum(rng.zipf(COMMON_ZIPF, n) - 1, COMMON - 1)
    topical = COMMON + subjects // SUBJECTS * TOPIC_WORDS + np.minimum(rng.zipf(TOPIC_ZIPF, n) - 1, TOPIC_WORDS - 1)
    own = (COMMON + TOPICS * TOPIC_WORDS + subjects * SUBJECT_WORDS
           + np.minimum(rng.zipf(SUBJECT_ZIPF, n) - 1, SUBJECT_WORDS - 1))
    scale = 1.0 if subject_share is None else (1 - subject_share) / (COMMON_SHARE + TOPIC_SHARE)
    first, second = COMMON_SHARE * scale, (COMMON_SHARE + TOPIC_SHARE) * scale
    return np.where(kind < first, common, np.where(kind < second, topical, own)).astype(np.int64)


def _rows(tokens: np.ndarray, directions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One row per token; ``directions`` the (row-wide, unit) direction of each row's text."""
    colbert_dim = directions.shape[1]
    _, vectors, row_common, _, _ = _world(colbert_dim)
    rows = rng.standard_normal((len(tokens), colbert_dim), dtype=np.float32)
    rows *= ROW_NOISE / np.sqrt(colbert_dim)
    rows += vectors[tokens]
    rows += np.float32(CONTEXT) * directions
    rows += np.float32(ANISOTROPY) * row_common
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def _words(tokens: np.ndarray, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text's distinct tokens, sorted, and the offsets of each text's run."""
    keys = np.unique(owner.astype(np.int64) * VOCAB + tokens)
    counts = np.bincount(keys // VOCAB, minlength=n)
    return keys % VOCAB, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _lexical(words: np.ndarray, offsets: np.ndarray, rng: np.random.Generator) -> SparseBatch:
    """One weight per distinct token: its base weight (rarer words weigh more) times noise."""
    weights = (_base_weights()[words] * rng.uniform(0.6, 1.4, len(words))).astype(np.float32)
    return SparseBatch.from_vectors([SparseVector(words[a:b], weights[a:b]) for a, b in itertools.pairwise(offsets)])


def _dense(own: np.ndarray, words: np.ndarray, offsets: np.ndarray, colbert_dim: int) -> np.ndarray:
    """The shared direction, each text's own direction and its words' vectors (rarer ones
    weighing more), lifted from the rows' width."""
    _, vectors, _, dense_common, base = _world(colbert_dim)
    summed = np.add.reduceat(vectors[words] * base[words, None], offsets[:-1], axis=0)
    lifted = np.zeros((len(own), DIM), np.float32)
    lifted[:, :colbert_dim] = _normalise(summed)
    return _normalise(DENSE_COMMON * dense_common + own + TOKENS * lifted)


@dataclass(frozen=True)
class Sources:
    """What a query for a document is made from: its distinct tokens and its own direction."""

    words: np.ndarray
    offsets: np.ndarray
    directions: np.ndarray
    subjects: np.ndarray
    #: the rows' width the documents were made at (their queries are made in the same world)
    colbert_dim: int


def token_docs(n: int, rng: np.random.Generator, pool_factor: int = 1, colbert_dim: int = DIM,
               rows: int | None = None) -> tuple[Embeddings, Sources]:
    """``n`` documents (float16 rows, what the index stores) and what they were made from."""
    centres = _world(colbert_dim)[0]
    subjects = rng.integers(0, len(centres), n)
    own = _normalise(centres[subjects] + rng.normal(size=(n, DIM)) / np.sqrt(DIM) * OWN_SPREAD)
    if rows is None:
        lengths = np.clip(np.rint(ROWS_MEDIAN * np.exp(rng.normal(0, ROWS_SIGMA, n))), 16, 512).astype(np.int64)
    else:
        lengths = np.full(n, rows, np.int64)
    owner = np.repeat(np.arange(n), lengths)
    tokens = _draw_tokens(subjects[owner], rng)
    words, offsets = _words(tokens, owner, n)
    # the tokens are independent draws: a document's first len // pool_factor stand for the pooled rows
    kept_counts = np.maximum(lengths // pool_factor, 1)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    kept = np.concatenate([np.arange(s, s + k) for s, k in zip(starts, kept_counts)])
    directions = _normalise(own[:, :colbert_dim])
    colbert = np.empty((len(kept), colbert_dim), np.float16)
    for a in range(0, len(kept), 200_000):  # in chunks, to bound memory
        part = kept[a:a + 200_000]
        colbert[a:a + len(part)] = _rows(tokens[part], directions[owner[part]], rng)
    row_offsets = np.concatenate([[0], np.cumsum(kept_counts)]).astype(np.int64)
    docs = Embeddings(dense=_dense(own, words, offsets, colbert_dim), sparse=_lexical(words, offsets, rng),
                      colbert=Ragged(colbert, row_offsets))
    return docs, Sources(words, offsets, own, subjects, colbert_dim)


def token_queries(sources: Sources, picks: np.ndarray, rng: np.random.Generator) -> Embeddings:
    """A query per picked document: QUERY_OVERLAP of its QUERY_TOKENS tokens are distinct words
    of the document (its rarer ones more often), each left out of the query's lexical weights
    with probability QUERY_SOFT (a word written another way: its rows still match); the rest are
    words of every text and of the document's topic; its direction the document's, perturbed."""
    colbert_dim, base = sources.colbert_dim, _base_weights()
    shared = max(round(QUERY_TOKENS * QUERY_OVERLAP), 1)
    sequences, lexical, owner = [], [], []
    for i, j in enumerate(picks):
        words = sources.words[sources.offsets[j]:sources.offsets[j + 1]]
        p = base[words] ** 2 / (base[words] ** 2).sum()
        taken = rng.choice(words, min(shared, len(words)), replace=False, p=p)
        others = _draw_tokens(np.full(QUERY_TOKENS - len(taken), sources.subjects[j]), rng, subject_share=0.0)
        tokens = np.concatenate([taken, others])
        sequences.append(tokens)
        lexical.append(tokens[rng.random(len(tokens)) >= np.where(np.arange(len(tokens)) < len(taken), QUERY_SOFT, 0)])
        owner.append(np.full(len(tokens), i))
    owned = np.concatenate(owner)
    own = _normalise(sources.directions[picks] + rng.normal(size=(len(picks), DIM)) / np.sqrt(DIM) * QUERY_NOISE)
    rows = _rows(np.concatenate(sequences), _normalise(own[:, :colbert_dim])[owned], rng)
    words, offsets = _words(np.concatenate(sequences), owned, len(picks))
    lexical_words, lexical_offsets = _words(np.concatenate(lexical), np.repeat(np.arange(len(picks)), [len(t) for t in lexical]), len(picks))
    row_offsets = np.concatenate([[0], np.cumsum([len(t) for t in sequences])]).astype(np.int64)
    return Embeddings(dense=_dense(own, words, offsets, colbert_dim), sparse=_lexical(lexical_words, lexical_offsets, rng),
                      colbert=Ragged(rows, row_offsets))
