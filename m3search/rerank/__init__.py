"""Cross-encoders: score (query, passage) pairs jointly, as a rerank stage after the first
stages, as the teacher of training data, and behind ``/v1/rerank``.

``from m3search import CrossEncoder`` (or from here) loads no torch until a model is loaded.
"""

from .cross_encoder import RERANKER_SHORT_NAMES, CrossEncoder

__all__ = ["RERANKER_SHORT_NAMES", "CrossEncoder"]
