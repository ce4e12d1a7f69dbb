"""A torch-free test backend: a fixed random embedding table as the "network".

hidden[b, t] = table[input_ids[b, t]] (so a token's state does not depend on its neighbours),
sparse = relu(hidden @ w_s + b_s), colbert = hidden @ W_c. Enough to check what the pipeline
does with raw outputs, by hand, without torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from m3search.encode.backends.base import ForwardOutput, TokenBatch


class NumpyBackend:
    kind = "numpy"

    def __init__(self, vocab_size: int, hidden: int = 8, colbert_dim: int = 4, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.table = rng.normal(size=(vocab_size, hidden)).astype(np.float32)
        self.w_sparse = rng.normal(size=hidden).astype(np.float32)
        self.w_colbert = rng.normal(size=(hidden, colbert_dim)).astype(np.float32)
        self.calls: list[tuple[int, int]] = []

    hidden_size = property(lambda self: self.table.shape[1])
    colbert_dim = property(lambda self: self.w_colbert.shape[1])
    heads = ("sparse", "colbert")
    max_positions = 64

    def architecture(self) -> dict[str, Any]:
        return {"model_type": "numpy-table", "hidden_size": self.hidden_size}

    def weights_fingerprint(self) -> str:
        return "numpy"

    def forward(self, batch: TokenBatch, parts: tuple[str, ...]) -> ForwardOutput:
        self.calls.append(batch.input_ids.shape)
        hidden = self.table[batch.input_ids]
        return ForwardOutput(
            hidden=hidden if "dense" in parts else None,
            sparse=np.maximum(hidden @ self.w_sparse, 0) if "sparse" in parts else None,
            colbert=hidden @ self.w_colbert if "colbert" in parts else None,
        )

    def save(self, directory: Path) -> None:
        raise NotImplementedError
