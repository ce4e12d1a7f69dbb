"""Baselines beside the model's own modes (no torch)."""

from __future__ import annotations

from .bm25 import BM25, model_tokenizer, tokenize

__all__ = ["BM25", "model_tokenizer", "tokenize"]
