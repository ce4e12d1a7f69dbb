"""m3search: multilingual search with one encoder and three ways to match text.

Dense vectors, sparse lexical weights and multi-vector (ColBERT) late interaction, from
BGE-M3 checkpoints or plain Hugging Face encoders. Importing this package does not import
torch: loading a model with the torch backend does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    CheckpointError,
    CheckpointNotFoundError,
    ConfigurationError,
    IndexFormatError,
    IndexLockedError,
    IndexMismatchError,
    InputError,
    InputTooLongError,
    InvalidDocumentError,
    M3SearchError,
    MissingHeadError,
    SearchIndexError,
)
from .eval.metrics import EvalResult, evaluate
from .scoring import (
    colbert_score,
    colbert_scores,
    combine,
    dense_scores,
    lexical_matching_score,
    pair_scores,
    sparse_scores,
)
from .types import Embeddings, Ragged, SparseBatch, SparseVector

if TYPE_CHECKING:
    from .encode import Encoder
    from .index import Index
    from .search import Searcher

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "ConfigurationError",
    "Embeddings",
    "Encoder",
    "EvalResult",
    "Index",
    "IndexFormatError",
    "IndexLockedError",
    "IndexMismatchError",
    "InputError",
    "InputTooLongError",
    "InvalidDocumentError",
    "M3SearchError",
    "MissingHeadError",
    "Ragged",
    "SearchIndexError",
    "Searcher",
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


def __getattr__(name: str) -> Any:  # imported on first use: they pull in tokenizers and the Qdrant engine
    if name == "Encoder":
        from .encode import Encoder

        return Encoder
    if name == "Index":
        from .index import Index

        return Index
    if name == "Searcher":
        from .search import Searcher

        return Searcher
    raise AttributeError(f"module 'm3search' has no attribute {name!r}")
