"""m3search: multilingual search with one encoder and three ways to match text.

Dense vectors, sparse lexical weights and multi-vector (ColBERT) late interaction, from
BGE-M3 checkpoints or plain Hugging Face encoders. Importing this package does not import
torch: :class:`Encoder` loads it on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    CheckpointError,
    CheckpointNotFoundError,
    ConfigurationError,
    IndexFormatError,
    IndexMismatchError,
    InputError,
    InputTooLongError,
    InvalidDocumentError,
    M3SearchError,
    MissingHeadError,
    SearchIndexError,
)
from .evaluate import EvalResult, evaluate
from .scoring import colbert_score, colbert_scores, combine, dense_scores, lexical_matching_score, pair_scores, sparse_scores
from .types import Embeddings, Ragged, SparseBatch, SparseVector

if TYPE_CHECKING:
    from .model import Encoder

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "ConfigurationError",
    "Embeddings",
    "Encoder",
    "EvalResult",
    "IndexFormatError",
    "IndexMismatchError",
    "InputError",
    "InputTooLongError",
    "InvalidDocumentError",
    "M3SearchError",
    "MissingHeadError",
    "Ragged",
    "SearchIndexError",
    "SparseBatch",
    "SparseVector",
    "colbert_score",
    "colbert_scores",
    "combine",
    "dense_scores",
    "evaluate",
    "lexical_matching_score",
    "pair_scores",
    "sparse_scores",
]


def __getattr__(name: str) -> Any:
    if name == "Encoder":  # imported lazily: it needs torch
        from .model import Encoder

        return Encoder
    raise AttributeError(f"module 'm3search' has no attribute {name!r}")
