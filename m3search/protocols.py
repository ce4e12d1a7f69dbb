"""What the index, search, serving and evaluation need of an encoder: :class:`EncoderLike`.

:class:`m3search.encode.Encoder` is the one implementation; the protocol lets the layers above
the encoder name it without importing it (that import pulls in ``tokenizers`` and, for the
torch backend, torch), and lets mypy check every call they make on it.

>>> from m3search.encode import Encoder
>>> isinstance(Encoder.load("tests/fixtures/tiny-m3", device="cpu"), EncoderLike)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from .types import Embeddings

Role = Literal["query", "document"]


@runtime_checkable
class EncoderLike(Protocol):
    """Texts in, :class:`~m3search.types.Embeddings` out, and what an index records of the model."""

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts the model can produce, in ``("dense", "sparse", "colbert")`` order."""

    @property
    def dim(self) -> int:
        """Dimension of the dense vectors."""

    @property
    def colbert_dim(self) -> int | None:
        """Width of the multi-vector rows; ``None`` without a multi-vector head."""

    @property
    def max_length(self) -> int:
        """Default truncation length in tokens."""

    @property
    def identity(self) -> dict[str, Any]:
        """What an index records to refuse a different encoder later (:mod:`m3search.identity`)."""

    def encode(self, texts: Sequence[str], *, role: Role = "document", parts: Iterable[str] | str = ("dense",),
               batch_size: int = 64, max_batch_tokens: int | None = None, max_length: int | None = None,
               truncation: bool = True, show_progress: bool | None = None) -> Embeddings:
        """One :class:`~m3search.types.Embeddings` batch for ``texts``, in input order."""

    def encode_tokens(self, token_ids: Sequence[Sequence[int]], *, parts: Iterable[str] | str = ("dense",),
                      batch_size: int = 64, max_batch_tokens: int | None = None,
                      show_progress: bool | None = None) -> Embeddings:
        """Embeddings of sequences already tokenised (special tokens included)."""

    def plan(self, texts: Sequence[str], *, role: Role = "document", max_length: int | None = None,
             truncation: bool = True) -> tuple[list[list[int]], Callable[[Embeddings], Embeddings]]:
        """The sequences the network sees for ``texts`` and how to merge their embeddings into one per text."""

    def tokenize(self, texts: Sequence[str], *, role: Role = "document", max_length: int | None = None,
                 truncation: bool = True) -> list[list[int]]:
        """Token ids of each text with the role's prefix, special tokens included."""

    def row_tokens(self, text: str, *, role: Role = "document") -> list[int]:
        """The token id behind each multi-vector row of ``text``."""

    def content_tokens(self, text: str) -> list[int]:
        """The text's own token ids: no prefix, no special tokens (what BM25 over the model's tokens counts)."""

    def decode_token(self, token_id: int) -> str:
        """The text of one vocabulary entry."""


@runtime_checkable
class RerankerLike(Protocol):
    """(query, passage) pairs in, one relevance score per pair out, in input order
    (:class:`m3search.rerank.CrossEncoder`)."""

    name: str

    def score(self, pairs: Sequence[Sequence[str]], *, max_length: int = 512, normalize: bool = False) -> Any:
        """One score per pair (an array or a list of floats)."""
