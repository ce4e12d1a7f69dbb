"""Token states of a frozen encoder, computed once per unique text (heads-only training).

With the encoder frozen, the last hidden states of a text never change, so they are computed
once for every *unique* text (a paragraph that is a positive for eight questions and a negative
for fifty is encoded once, not per group) and kept as float16 in a memory-mapped file. Training
the two small heads then needs no transformer forward pass at all, which is what makes CPU
training of the heads fast.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..encode.backends.base import TokenBatch
from ..encode.batching import plan_batches
from ..identity import identity_hash
from ..io.atomic import atomic_write_text
from ..progress import progress_bar
from .collate import pad

if TYPE_CHECKING:
    from ..encode import Encoder


class StateCache:
    """``(role, text) -> (token ids, float16 states)`` for a fixed encoder and truncation."""

    def __init__(self, directory: Path, keys: dict[tuple[str, str], int], offsets: np.ndarray, ids: np.ndarray,
                 states: np.ndarray, pad_id: int) -> None:
        self.directory = directory
        self.pad_id = pad_id
        self._row = keys
        self._offsets = offsets
        self._ids = ids
        self._states = states

    @classmethod
    def build(cls, encoder: Encoder, texts: dict[str, Sequence[str]], directory: str | Path, *,
              max_length: dict[str, int], max_batch_tokens: int = 16384, show_progress: bool = True) -> StateCache:
        """Encode every unique text of each role (``{"query": [...], "document": [...]}``) once,
        or reopen the cache in ``directory`` when it holds exactly these texts for this encoder."""
        unique = {role: sorted(set(values)) for role, values in texts.items()}
        key = hashlib.sha256(json.dumps({"encoder": identity_hash(encoder.identity), "max_length": max_length,
                                         "texts": unique}, sort_keys=True).encode()).hexdigest()[:16]
        directory = Path(directory) / key
        if (directory / "done.json").is_file():
            return cls.open(directory)
        directory.mkdir(parents=True, exist_ok=True)
        order = [(role, text) for role in sorted(unique) for text in unique[role]]
        token_ids: list[list[int]] = []
        for role in sorted(unique):
            if role not in ("query", "document"):
                raise ValueError(f"a text role is 'query' or 'document', got {role!r}")
            token_ids += encoder.tokenize(list(unique[role]), role="query" if role == "query" else "document",
                                          max_length=max_length[role])
        offsets = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in token_ids], out=offsets[1:])
        hidden = encoder.dim
        states = np.lib.format.open_memmap(directory / "states.npy", mode="w+", dtype=np.float16,
                                           shape=(int(offsets[-1]), hidden))
        batches = plan_batches([len(t) for t in token_ids], max_batch_size=256, max_batch_tokens=max_batch_tokens)
        with progress_bar(len(order), "cache token states", "text", show_progress) as bar:
            for batch in batches:
                tokens = TokenBatch.pad([token_ids[i] for i in batch], encoder.tokenizer.pad_id)
                out = encoder.backend.forward(tokens, ("dense",)).hidden
                assert out is not None  # asked for
                for row, i in enumerate(batch):
                    states[offsets[i] : offsets[i + 1]] = out[row, : len(token_ids[i])]
                bar.update(len(batch))
        states.flush()
        np.save(directory / "ids.npy", np.concatenate([np.asarray(t, dtype=np.int64) for t in token_ids]))
        np.save(directory / "offsets.npy", offsets)
        (directory / "keys.jsonl").write_text("".join(json.dumps(k, ensure_ascii=False) + "\n" for k in order),
                                              encoding="utf-8")
        atomic_write_text(directory / "done.json", json.dumps({"texts": len(order), "tokens": int(offsets[-1]),
                                                               "pad_id": encoder.tokenizer.pad_id}))
        return cls.open(directory)

    @classmethod
    def open(cls, directory: Path) -> StateCache:
        lines = (directory / "keys.jsonl").read_text(encoding="utf-8").splitlines()
        keys = {(role, text): i for i, (role, text) in enumerate(json.loads(line) for line in lines)}
        done = json.loads((directory / "done.json").read_text())
        return cls(directory, keys, np.load(directory / "offsets.npy"), np.load(directory / "ids.npy"),
                   np.load(directory / "states.npy", mmap_mode="r"), int(done["pad_id"]))

    def __len__(self) -> int:
        return len(self._row)

    def token_ids(self, text: str, role: str) -> np.ndarray:
        i = self._row[(role, text)]
        return self._ids[self._offsets[i] : self._offsets[i + 1]]

    def sample_states(self, count: int, seed: int = 0) -> torch.Tensor:
        """``count`` token states drawn at random (seeded) from every cached text, float32 ``(count, h)``."""
        rows = np.sort(np.random.default_rng(seed).choice(len(self._states), size=min(count, len(self._states)),
                                                          replace=False))
        return torch.from_numpy(np.asarray(self._states[rows], dtype=np.float32))

    def batch(self, texts: Sequence[str], role: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded ids, mask and float32 states ``(N, L, h)`` of ``texts``."""
        rows = [self._row[(role, t)] for t in texts]
        ids, mask = pad([self._ids[self._offsets[i] : self._offsets[i + 1]].tolist() for i in rows], self.pad_id)
        states = torch.zeros(len(rows), ids.size(1), self._states.shape[1], dtype=torch.float32)
        for j, i in enumerate(rows):
            a, b = self._offsets[i], self._offsets[i + 1]
            states[j, : b - a] = torch.from_numpy(np.asarray(self._states[a:b], dtype=np.float32))
        return ids, mask, states
