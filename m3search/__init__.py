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
    from .eval.metrics import EvalResult, evaluate
    from .index import Index
    from .protocols import EncoderLike
    from .rerank import CrossEncoder
    from .search import Searcher

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "ConfigurationError",
    "CrossEncoder",
    "Embeddings",
    "Encoder",
    "EncoderLike",
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


#: Names imported on first use, and the module that holds each: the encoder pulls in tokenizers,
#: the index the Qdrant engine, evaluation ir-measures. ``import m3search`` loads none of them.
_LAZY = {
    "CrossEncoder": ".rerank",
    "Encoder": ".encode",
    "EncoderLike": ".protocols",
    "EvalResult": ".eval.metrics",
    "Index": ".index",
    "Searcher": ".search",
    "evaluate": ".eval.metrics",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'm3search' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
