"""A deterministic fake encoder with no torch: hashed words as tokens.

Dense = normalised sum of per-token random vectors; sparse = a per-token weight; colbert =
one normalised random vector per token plus one for the closing token (as M3 keeps ``</s>``).
Shared words give shared tokens, so lexical and late-interaction matches behave sensibly.
"""

from __future__ import annotations

import zlib

import numpy as np

from m3search.types import PARTS, Embeddings, Ragged, SparseBatch, SparseVector

VOCAB = 5000
EOS = 2


class FakeEncoder:
    def __init__(self, dim: int = 16, colbert_dim: int = 8, name: str = "fake", parts=PARTS) -> None:
        self.dim, self.colbert_dim = dim, colbert_dim
        self.parts = tuple(parts)
        self.name = name

    @property
    def identity(self) -> dict:
        return {"name": self.name, "source": self.name, "architecture": {"model_type": "fake"}, "dim": self.dim,
                "colbert_dim": self.colbert_dim, "parts": list(self.parts), "vocab_size": VOCAB,
                "weights": f"fake-{self.name}", "heads": "checkpoint", "settings": "fake"}

    def tokenize(self, texts, role="document", **_):
        return [[0] + [4 + zlib.crc32(w.lower().encode()) % (VOCAB - 4) for w in t.split()] + [EOS] for t in texts]

    def decode_token(self, token_id: int) -> str:
        return f"t{token_id}"

    @staticmethod
    def _vector(token: int, dim: int, salt: int) -> np.ndarray:
        return np.random.default_rng(token * 7919 + salt).normal(size=dim).astype(np.float32)

    def encode(self, texts, *, role="document", parts=("dense",), **_):
        parts = PARTS if parts == "all" else tuple(parts)
        tokens = self.tokenize(texts)
        dense = sparse = colbert = None
        if "dense" in parts:
            rows = [sum(self._vector(t, self.dim, 1) for t in ids[1:-1]) if len(ids) > 2 else np.ones(self.dim, np.float32)
                    for ids in tokens]
            dense = np.array([r / np.linalg.norm(r) for r in rows], dtype=np.float32)
        if "sparse" in parts:
            vectors = []
            for text, ids in zip(texts, tokens):
                jitter = (zlib.crc32(text.encode()) % 1000) / 1e5  # per-text, so that scores rarely tie
                weights = {t: 0.1 + (t % 97) / 97 + jitter for t in ids[1:-1]}
                keys = np.array(sorted(weights), dtype=np.int64)
                vectors.append(SparseVector(keys, np.array([weights[t] for t in keys], dtype=np.float32)))
            sparse = SparseBatch.from_vectors(vectors)
        if "colbert" in parts:
            arrays = []
            for ids in tokens:
                m = np.array([self._vector(t, self.colbert_dim, 2) for t in ids[1:]], dtype=np.float32)
                arrays.append(m / np.linalg.norm(m, axis=1, keepdims=True))
            colbert = Ragged.from_arrays(arrays, dim=self.colbert_dim)
        return Embeddings(dense=dense, sparse=sparse, colbert=colbert)
