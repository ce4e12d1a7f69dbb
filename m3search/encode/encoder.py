"""The encoder: text in, :class:`~m3search.types.Embeddings` out, through a torch-free pipeline.

::

    texts -> token sequences (.sequences) -> batches -> backend.forward -> post-process (.pipeline) -> Embeddings

:class:`Encoder` loads, saves and identifies a model (its backend, tokenizer and settings) and
offers the pipeline's steps as methods. Only the backend runs the network
(:mod:`m3search.encode.backends`); prefixes, tokenising and the long-text strategies are in
:mod:`.sequences`, batching and post-processing in :mod:`.pipeline` and :mod:`.postprocess`,
the same for every backend.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..io.atomic import atomic_write_text
from ..types import PARTS, Embeddings
from . import batching, pipeline, sequences
from .backends import EncoderBackend, load_backend
from .backends.onnx_smoothquant import recorded_calibration
from .checkpoints import hub
from .checkpoints.config import (
    CONFIG_FILE,
    EncoderConfig,
    Layout,
    check_colbert_width,
    default_config,
    detect_layout,
    head_widths,
)
from .tokenizer import TextTokenizer

if TYPE_CHECKING:
    from ..protocols import Role


class Encoder:
    """One checkpoint, three outputs: dense, sparse (lexical weights) and multi-vector (ColBERT).

    Build it with :meth:`load`; :meth:`save` writes m3search's own format, which :meth:`load`
    reads back to the same outputs.

    >>> enc = Encoder.load("tests/fixtures/tiny-m3", device="cpu")
    >>> out = enc.encode(["Mount Everest", "Der Nil"], parts="all")
    >>> out.dense.shape, len(out.sparse), out.colbert.dim
    ((2, 32), 2, 32)
    """

    def __init__(self, backend: EncoderBackend, tokenizer: TextTokenizer, config: EncoderConfig, *,
                 layout: Layout = "m3search", source: str | None = None) -> None:
        self.backend = backend
        self.tokenizer = tokenizer
        self.config = config
        self.layout = layout
        #: How to load this model again: a short name, a hub id or an absolute directory.
        self.source = source or config.name
        #: Where the sparse and multi-vector heads came from: "checkpoint", "none", "baseline" or "random:SEED".
        self.heads = "checkpoint" if set(backend.heads) == {"sparse", "colbert"} else "none"
        self._check_max_length(config.max_length)
        check_colbert_width(config.colbert_dim, self.colbert_dims)
        if config.colbert_dim is not None and config.colbert_dim == backend.colbert_dim:  # the head's own width:
            self.config = dataclasses.replace(config, colbert_dim=None)  # one identity however asked for

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def load(
        cls,
        name_or_path: str | os.PathLike[str] = hub.DEFAULT_MODEL,
        *,
        backend: str = "torch",
        device: str | None = None,
        dtype: Any = None,
        quantize_heads: bool = False,
        calibration: str | None = None,
        **overrides: Any,
    ) -> Encoder:
        """Load a short name, a local directory or a hub id (see :mod:`m3search.encode.checkpoints`).

        - ``backend``: what runs the network: ``"torch"``, ``"onnx"`` (ONNX Runtime, the graph
          exported once and cached) or ``"onnx-int8"`` (int8 weights; the two head projections
          stay float32 unless ``quantize_heads``; ``calibration="none"`` skips its SmoothQuant
          calibration). See :mod:`m3search.encode.backends.onnx`.
        - ``device``: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available); ``dtype`` a torch dtype.
        - ``overrides`` replace settings of :class:`EncoderConfig` (``pooling``, ``normalize``,
          ``query_prefix``, ``document_prefix``, ``max_length``, ``name``, and for long inputs
          ``long_strategy``, ``mcls_interval``, ``window_size``, ``window_stride``, ``window_dense``).
        """
        path = hub.resolve(name_or_path)
        layout = detect_layout(path)
        config = default_config(path, layout)
        if layout != "m3search" and "name" not in overrides:
            overrides["name"] = str(name_or_path)
        config = config.with_overrides(**overrides)
        tokenizer = TextTokenizer.load(path)
        network = load_backend(backend, path, device=device, dtype=dtype, quantize_heads=quantize_heads,
                               calibration=calibration)
        return cls(network, tokenizer, config, layout=layout, source=_portable_source(name_or_path, path))

    def save(self, path: str | os.PathLike[str], *, backends: Sequence[str] = (),
             calibration: str = "smoothquant") -> Path:
        """Write m3search's own format: HF weights and tokenizer, head files, ``m3search.json``;
        with ``backends`` (``"onnx"``, ``"onnx-int8"``) also their exported graphs, in
        ``path/onnx/``, which ``Encoder.load(path, backend=...)`` then reads without exporting
        (a read-only model directory, a machine without torch); ``calibration="none"`` saves
        the uncalibrated int8 graph (saving again with the other adds it beside)."""
        from .backends.onnx_saved import check_savable, save_graphs

        check_savable(backends, calibration)  # before anything is written
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.backend.save(path)
        self.tokenizer.save(path)
        atomic_write_text(path / CONFIG_FILE, json.dumps(self.config.to_json(), indent=2))
        if backends:
            save_graphs(path, backends, calibration)
        return path

    def add_heads(
        self, *, init: str = "random", colbert_dim: int | None = None, seed: int = 0, replace: bool = False
    ) -> Encoder:
        """Attach sparse and multi-vector heads to a model that has none (kept unless ``replace``).

        - ``init="random"``: ``nn.Linear`` defaults, seeded: the starting point of training;
          scores are meaningless until trained.
        - ``init="baseline"``: untrained but meaningful. The multi-vector head is the identity
          (MaxSim over the model's own contextual token states) and the sparse head gives every
          token the weight 0.1 (``sparse`` = 0.01 x the number of distinct shared tokens, plain
          term overlap). This is what the demo uses for a model without trained heads.
        """
        if init not in ("random", "baseline"):
            raise ConfigurationError(f"init must be 'random' or 'baseline', got {init!r}")
        if self.heads == "checkpoint" and not replace:
            return self
        make_heads = getattr(self.backend, "make_heads", None)
        if make_heads is None:
            raise ConfigurationError(f"the {self.backend.kind} backend cannot attach heads")
        colbert, sparse = make_heads(init, colbert_dim=colbert_dim, seed=seed)
        if self.heads == "none" or replace:
            self.backend.set_heads(colbert, sparse)  # type: ignore[attr-defined]
            self.heads = "baseline" if init == "baseline" else f"random:{seed}"
        return self

    def without_heads(self) -> Encoder:
        """Drop the sparse and multi-vector heads: a dense-only encoder."""
        set_heads = getattr(self.backend, "set_heads", None)
        if set_heads is None:
            raise ConfigurationError(f"the {self.backend.kind} backend cannot drop heads")
        set_heads(None, None)
        self.heads = "none"
        return self

    @classmethod
    def for_identity(cls, identity: dict[str, Any], *, name: str | None = None, device: str | None = None,
                     backend: str | None = None) -> Encoder:
        """Load the encoder an index records (see :attr:`identity`), re-attaching baseline or
        seeded random heads when that is what built the index. ``name`` overrides where the
        model is loaded from (a moved directory, a local copy of a hub model), ``backend`` the
        backend that built the index (``"torch"`` unless recorded)."""
        kind = backend or identity.get("backend", "torch")
        weights = identity.get("weights", "")
        int8 = {"quantize_heads": weights.endswith("-heads"),
                "calibration": recorded_calibration(weights)} if kind == "onnx-int8" else {}
        encoder = cls.load(name or identity.get("source") or identity["name"], device=device, backend=kind,
                           **int8, **identity.get("long", {}))
        heads = identity.get("heads", "checkpoint")
        if heads == "baseline":
            encoder.add_heads(init="baseline", replace=True)
        elif heads.startswith("random:"):
            encoder.add_heads(init="random", seed=int(heads.split(":", 1)[1]), colbert_dim=identity.get("colbert_dim"),
                              replace=True)
        elif heads == "none" and encoder.heads != "none":
            encoder.without_heads()
        width = identity.get("colbert_dim")
        if width and width != encoder.colbert_dim and width in encoder.colbert_dims:  # a nested width of the head
            encoder.config = encoder.config.with_overrides(colbert_dim=width)
        return encoder

    # ------------------------------------------------------------------ properties
    @property
    def parts(self) -> tuple[str, ...]:
        """The parts this model can produce."""
        return tuple(p for p in PARTS if p == "dense" or p in self.backend.heads)

    @property
    def dim(self) -> int:
        """Dimension of the dense vectors."""
        return self.backend.hidden_size

    @property
    def colbert_dim(self) -> int | None:
        """Width of the multi-vector rows: the configured ``colbert_dim`` of a nested head, else the head's."""
        return self.config.colbert_dim or self.backend.colbert_dim

    @property
    def colbert_dims(self) -> tuple[int, ...]:
        """The multi-vector widths the head offers (a compact head's nested widths, else its own)."""
        return head_widths(self.backend.colbert_dim, self.config.extra)

    @property
    def model_max_length(self) -> int:
        """The most tokens (special tokens included) the model's position embeddings allow."""
        return self.backend.max_positions

    @property
    def max_length(self) -> int:
        """Default truncation length: the configured one, else the model limit."""
        return self.config.max_length or self.model_max_length

    @property
    def batch_tokens(self) -> int:
        """Padded tokens per forward pass when not given: 2,048 on a CPU, 16,384 on a GPU
        (:func:`.batching.default_batch_tokens`, where the measurements are)."""
        return batching.default_batch_tokens(self.backend)

    @property
    def identity(self) -> dict[str, Any]:
        """What an index records to refuse a different encoder later (see :mod:`m3search.identity`):
        the model, not the path it was read from."""
        return {
            "name": self.config.name,
            "source": self.source,
            "architecture": self.backend.architecture(),
            "dim": self.dim,
            "colbert_dim": self.colbert_dim,
            "parts": list(self.parts),
            "vocab_size": len(self.tokenizer),
            "weights": self.backend.weights_fingerprint(),
            "heads": self.heads,
            "settings": self.config.fingerprint(),
            **({"long": self.config.long_settings()} if self.config.long_settings() else {}),
            **({"backend": self.backend.kind} if self.backend.kind != "torch" else {}),
        }

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        texts: Sequence[str],
        *,
        role: Role = "document",
        parts: Iterable[str] | str = ("dense",),
        batch_size: int = 64,
        max_batch_tokens: int | None = None,
        max_length: int | None = None,
        truncation: bool = True,
        show_progress: bool | None = None,
    ) -> Embeddings:
        """Encode a list of texts; the parts asked for are filled, the others are ``None``.

        Args:
            texts: the texts (a list, never a single string).
            role: ``"query"`` or ``"document"``; picks the prefix (``query_prefix`` or ``document_prefix``).
            parts: any of ``"dense"``, ``"sparse"``, ``"colbert"``, or ``"all"``.
            batch_size, max_batch_tokens: texts are sorted by length and batched under at most
                ``batch_size`` texts and ``max_batch_tokens`` padded tokens (default
                :attr:`batch_tokens`); outputs come back in input order.
            max_length: truncation length in tokens (default: the configured one, else the
                model's limit: 512 for XLM-R/BERT checkpoints, 8192 for BGE-M3).
            truncation: ``False`` raises :class:`InputTooLongError` for a longer text instead.
            show_progress: a progress bar (default: from 256 texts on).

        >>> enc = Encoder.load("tests/fixtures/tiny-m3", device="cpu")
        >>> e = enc.encode(["Wie hoch ist der Everest?"], role="query", parts=["dense", "sparse"])
        >>> e.parts, e.dense.shape
        (('dense', 'sparse'), (1, 32))
        """
        texts = sequences.check_texts(texts)
        wanted = self._check_parts(parts)
        token_ids, finish = self.plan(texts, role=role, max_length=max_length, truncation=truncation)
        out = self.encode_tokens(token_ids, parts=wanted, batch_size=batch_size, max_batch_tokens=max_batch_tokens,
                                 show_progress=show_progress)
        return finish(out)

    def plan(
        self, texts: Sequence[str], *, role: Role = "document", max_length: int | None = None, truncation: bool = True
    ) -> tuple[list[list[int]], Callable[[Embeddings], Embeddings]]:
        """The sequences the network must see for ``texts`` under the ``long_strategy``, and the
        function that turns their embeddings into one per text (see :mod:`m3search.encode.long`).

        With ``truncate`` and ``mcls`` each text is one sequence (``finish`` is the identity);
        with ``windows`` a long text is several.

        >>> enc = Encoder.load("tests/fixtures/tiny-m3", device="cpu", long_strategy="windows", window_size=8)
        >>> ids, finish = enc.plan(["one two three four five six seven eight nine ten"])
        >>> len(ids) > 1, len(finish(enc.encode_tokens(ids, parts="all")))
        (True, 1)
        """
        limit = self._check_max_length(max_length) or self.max_length
        return sequences.plan(self.tokenizer, self.config, texts, role=role, limit=limit,
                              model_max_length=self.model_max_length, truncation=truncation)

    def row_tokens(self, text: str, *, role: Role = "document") -> list[int]:
        """The token ids behind the multi-vector rows of ``text`` (CLS and inserted CLS dropped):
        what explanations align query tokens with."""
        strategy = self.config.long_strategy
        if strategy == "windows":
            return sequences.full_tokens(self.tokenizer, self.config, [text], role)[0][1:]
        if strategy == "mcls":
            ids = self.plan([text], role=role)[0][0]
            return [t for t in ids[1:] if t != ids[0]]
        return self.tokenize([text], role=role)[0][1:]

    def encode_tokens(
        self,
        token_ids: Sequence[Sequence[int]],
        *,
        parts: Iterable[str] | str = ("dense",),
        batch_size: int = 64,
        max_batch_tokens: int | None = None,
        show_progress: bool | None = None,
    ) -> Embeddings:
        """Encode texts already tokenised by :meth:`tokenize` (special tokens and prefix included).

        How a server merges several requests into one forward pass: each request is tokenised
        on its own, then all their token ids are planned into batches together.

        >>> enc = Encoder.load("tests/fixtures/tiny-m3", device="cpu")
        >>> ids = enc.tokenize(["Everest"], role="query")
        >>> bool((enc.encode_tokens(ids).dense == enc.encode(["Everest"], role="query").dense).all())
        True
        """
        wanted = self._check_parts(parts)
        sequences.check_token_ids(token_ids, len(self.tokenizer))
        return pipeline.encode_sequences(self.backend, self.tokenizer, self.config, token_ids, wanted,
                                         batch_size=batch_size, max_batch_tokens=max_batch_tokens or self.batch_tokens,
                                         show_progress=show_progress)

    def encode_queries(self, texts: Sequence[str], **kwargs: Any) -> Embeddings:
        """:meth:`encode` with ``role="query"`` (as FlagEmbedding's ``encode_queries``).

        >>> enc = Encoder.load("tests/fixtures/tiny-m3", device="cpu")
        >>> same = enc.encode(["Everest"], role="query", parts="all")
        >>> bool((enc.encode_queries(["Everest"], parts="all").dense == same.dense).all())
        True
        """
        return self.encode(texts, role="query", **kwargs)

    def encode_documents(self, texts: Sequence[str], **kwargs: Any) -> Embeddings:
        """:meth:`encode` with ``role="document"`` (as FlagEmbedding's ``encode_corpus``).

        >>> enc = Encoder.load("tests/fixtures/tiny-m3", device="cpu")
        >>> enc.encode_documents(["Der Nil", "Mount Everest"], parts=["sparse"]).parts
        ('sparse',)
        """
        return self.encode(texts, role="document", **kwargs)

    def tokenize(
        self, texts: Sequence[str], *, role: Role = "document", max_length: int | None = None, truncation: bool = True
    ) -> list[list[int]]:
        """Token ids (special tokens included) of each text with the role's prefix, cut at
        ``max_length`` (default :attr:`max_length`) or refused without ``truncation``."""
        return sequences.tokenize(self.tokenizer, self.config, texts, role=role, limit=max_length or self.max_length,
                                  truncation=truncation)

    def content_tokens(self, text: str) -> list[int]:
        """The text's own token ids: no prefix, no special tokens, no truncation (BM25 over the
        model's tokens counts these).

        >>> enc = Encoder.load("tests/fixtures/tiny-m3", device="cpu")
        >>> len(enc.content_tokens("Mount Everest")) == len(enc.tokenize(["Mount Everest"])[0]) - 2
        True
        """
        special = set(self.tokenizer.special_ids.tolist())
        return [i for i in self.tokenizer.encode([text], max_length=None)[0] if i not in special]

    def decode_token(self, token_id: int) -> str:
        """The text of one vocabulary entry (for explanations)."""
        return self.tokenizer.token(token_id)

    # ------------------------------------------------------------------ helpers
    def _check_parts(self, parts: Iterable[str] | str) -> tuple[str, ...]:
        return sequences.requested_parts(parts, self.parts, self.config.name)

    def _check_max_length(self, max_length: int | None) -> int | None:
        if max_length is None:
            return None
        if not isinstance(max_length, int) or max_length < 2:
            raise ConfigurationError(f"max_length must be an integer >= 2, got {max_length!r}")
        if max_length > self.model_max_length:
            raise ConfigurationError(
                f"max_length={max_length} exceeds the {self.model_max_length} positions of model {self.config.name!r}"
            )
        return max_length


def _portable_source(name_or_path: str | os.PathLike[str], resolved: Path) -> str:
    """A short name or hub id as given; a local directory as an absolute path."""
    name = str(name_or_path)
    if name in hub.SHORT_NAMES or not Path(name).expanduser().exists():
        return name
    return str(resolved.resolve())

