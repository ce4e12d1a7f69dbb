"""Baselines beside the model's own modes (no torch)."""

from __future__ import annotations

from .bm25 import BM25, tokenize

__all__ = ["BM25", "tokenize"]
