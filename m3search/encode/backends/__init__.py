"""Backends run the network for the encoder pipeline; :mod:`.base` is the seam (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import ConfigurationError
from .base import EncoderBackend, ForwardOutput, TokenBatch

#: The backends ``Encoder.load(..., backend=...)`` knows.
BACKENDS = ("torch",)

__all__ = ["BACKENDS", "EncoderBackend", "ForwardOutput", "TokenBatch", "load_backend"]


def load_backend(kind: str, path: Path, *, device: str | None = None, dtype: Any = None) -> EncoderBackend:
    """The backend ``kind`` for the checkpoint in ``path``."""
    if kind == "torch":
        from .torch import TorchBackend

        return TorchBackend.load(path, device=device, dtype=dtype)
    raise ConfigurationError(f"unknown backend {kind!r}; choose from {list(BACKENDS)}")
