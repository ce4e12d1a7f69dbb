"""Backends run the network for the encoder pipeline; :mod:`.base` is the seam (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import ConfigurationError
from .base import EncoderBackend, ForwardOutput, TokenBatch

#: The backends ``Encoder.load(..., backend=...)`` knows.
BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-bf16")

__all__ = ["BACKENDS", "EncoderBackend", "ForwardOutput", "TokenBatch", "load_backend"]


def load_backend(kind: str, path: Path, *, device: str | None = None, dtype: Any = None,
                 quantize_heads: bool = False, calibration: str | None = None) -> EncoderBackend:
    """The backend ``kind`` for the checkpoint in ``path`` (``quantize_heads`` and ``calibration``,
    ``"smoothquant"`` by default or ``"none"``: ``onnx-int8`` only)."""
    if calibration is not None:
        from .onnx_smoothquant import check_calibration

        check_calibration(calibration)
        if kind != "onnx-int8":
            raise ConfigurationError(f"calibration={calibration!r} is a setting of the onnx-int8 backend, not {kind!r}")
    if kind == "torch":
        from .torch import TorchBackend

        return TorchBackend.load(path, device=device, dtype=dtype)
    if kind in BACKENDS[1:]:
        if dtype is not None:
            raise ConfigurationError(f"dtype is a torch setting; the {kind} backend runs float32 (or int8) graphs")
        from . import onnx

        return onnx.load(path, kind, device=device, quantize_heads=quantize_heads,
                         calibration=calibration or "smoothquant")
    raise ConfigurationError(f"unknown backend {kind!r}; choose from {list(BACKENDS)}")
