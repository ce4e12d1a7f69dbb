"""The encoder: text in, :class:`~m3search.types.Embeddings` out.

::

    from m3search.model import Encoder
    enc = Encoder.load("multilingual-e5-small")
    enc.encode(["Wie hoch ist der Mount Everest?"], role="query").dense.shape   # (1, 384)
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..batching import plan_batches
from ..errors import CheckpointError, ConfigurationError, InputTooLongError, MissingHeadError
from ..types import PARTS, Embeddings, Ragged, SparseBatch, SparseVector
from . import hub
from .config import COLBERT_FILE, CONFIG_FILE, SPARSE_FILE, EncoderConfig, Layout, default_config, detect_layout
from .network import M3Model

log = logging.getLogger(__name__)

Role = Literal["query", "document"]
#: Show a progress bar by default from this many texts on.
PROGRESS_THRESHOLD = 256


class Encoder:
    """One checkpoint, three outputs: dense, sparse (lexical weights) and multi-vector (ColBERT).

    Build it with :meth:`load`; :meth:`save` writes m3search's own format, which
    :meth:`load` reads back to the same outputs.
    """

    def __init__(self, model: M3Model, tokenizer: Any, config: EncoderConfig, *, layout: Layout = "m3search") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.layout = layout
        #: Where the sparse and multi-vector heads came from: "checkpoint", "none", "baseline" or "random:SEED".
        self.heads = "checkpoint" if model.colbert_linear is not None and model.sparse_linear is not None else "none"
        self._special_ids = np.array(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def load(
        cls,
        name_or_path: str | os.PathLike[str] = hub.DEFAULT_MODEL,
        *,
        device: str | None = None,
        dtype: torch.dtype | None = None,
        **overrides: Any,
    ) -> "Encoder":
        """Load a short name, a local directory or a hub id (see :mod:`m3search.model.config`).

        ``overrides`` replace settings of :class:`EncoderConfig` (``pooling``, ``normalize``,
        ``query_prefix``, ``document_prefix``, ``max_length``, ``name``).
        """
        from transformers import AutoModel, AutoTokenizer

        path = hub.resolve(name_or_path)
        layout = detect_layout(path)
        config = default_config(path, layout)
        if layout != "m3search" and "name" not in overrides:
            overrides["name"] = str(name_or_path)
        config = config.with_overrides(**overrides)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path))
            backbone = AutoModel.from_pretrained(str(path), add_pooling_layer=False, dtype=dtype or torch.float32)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"cannot read the checkpoint in {path}: {exc}") from exc
        colbert = _load_head(path / COLBERT_FILE, dtype)
        sparse = _load_head(path / SPARSE_FILE, dtype)
        model = M3Model(backbone, pooling=config.pooling, normalize=config.normalize, colbert_linear=colbert, sparse_linear=sparse)
        encoder = cls(model.eval(), tokenizer, config, layout=layout)
        encoder.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        encoder._check_max_length(config.max_length)
        return encoder

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write m3search's own format: HF weights and tokenizer, head files, ``m3search.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.backbone.save_pretrained(str(path), safe_serialization=True)
        self.tokenizer.save_pretrained(str(path))
        for head, filename in ((self.model.colbert_linear, COLBERT_FILE), (self.model.sparse_linear, SPARSE_FILE)):
            if head is not None:
                torch.save({k: v.detach().cpu() for k, v in head.state_dict().items()}, path / filename)
            elif (path / filename).exists():
                (path / filename).unlink()
        (path / CONFIG_FILE).write_text(json.dumps(self.config.to_json(), indent=2))
        return path

    def to(self, device: str | torch.device) -> "Encoder":
        self.model.to(device)
        return self

    def add_heads(
        self, *, init: str = "random", colbert_dim: int | None = None, seed: int = 0, replace: bool = False
    ) -> "Encoder":
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
        hidden = self.model.hidden_size
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            colbert = nn.Linear(hidden, colbert_dim or hidden)
            sparse = nn.Linear(hidden, 1)
            if init == "baseline":
                if colbert.out_features != hidden:
                    raise ConfigurationError("baseline multi-vector heads keep the hidden size: leave colbert_dim unset")
                with torch.no_grad():
                    colbert.weight.copy_(torch.eye(hidden))
                    colbert.bias.zero_()
                    sparse.weight.zero_()
                    sparse.bias.fill_(0.1)
        finally:
            torch.random.set_rng_state(generator_state)
        if self.model.colbert_linear is None or self.model.sparse_linear is None or replace:
            self.model.colbert_linear = colbert.to(self.device)
            self.model.sparse_linear = sparse.to(self.device)
            self.heads = "baseline" if init == "baseline" else f"random:{seed}"
        return self

    @classmethod
    def for_identity(cls, identity: dict[str, Any], *, name: str | None = None, device: str | None = None) -> "Encoder":
        """Load the encoder an index records (see :attr:`identity`), re-attaching baseline or
        seeded random heads when that is what built the index."""
        encoder = cls.load(name or identity["name"], device=device)
        heads = identity.get("heads", "checkpoint")
        if heads == "baseline":
            encoder.add_heads(init="baseline")
        elif heads.startswith("random:"):
            encoder.add_heads(init="random", seed=int(heads.split(":", 1)[1]), colbert_dim=identity.get("colbert_dim"))
        return encoder

    # ------------------------------------------------------------------ properties
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts this model can produce."""
        heads = {"sparse": self.model.sparse_linear, "colbert": self.model.colbert_linear}
        return tuple(p for p in PARTS if p == "dense" or heads[p] is not None)

    @property
    def dim(self) -> int:
        """Dimension of the dense vectors."""
        return self.model.hidden_size

    @property
    def colbert_dim(self) -> int | None:
        head = self.model.colbert_linear
        return None if head is None else int(head.out_features)

    @property
    def model_max_length(self) -> int:
        """The most tokens (special tokens included) the model's position embeddings allow."""
        cfg = self.model.backbone.config
        positions = int(cfg.max_position_embeddings)
        if getattr(cfg, "model_type", "") in ("xlm-roberta", "roberta", "camembert", "xlm-roberta-xl"):
            positions -= int(cfg.pad_token_id) + 1  # RoBERTa position ids start after the padding index
        return positions

    @property
    def max_length(self) -> int:
        """Default truncation length: the configured one, else the model limit."""
        return self.config.max_length or self.model_max_length

    @property
    def identity(self) -> dict[str, Any]:
        """What an index records to refuse a different encoder later."""
        return {
            "name": self.config.name,
            "dim": self.dim,
            "colbert_dim": self.colbert_dim,
            "parts": list(self.parts),
            "config_hash": self.config.fingerprint(),
            "vocab_size": len(self.tokenizer),
            "heads": self.heads,
        }

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        texts: Sequence[str],
        *,
        role: Role = "document",
        parts: Iterable[str] | str = ("dense",),
        batch_size: int = 64,
        max_batch_tokens: int = 16384,
        max_length: int | None = None,
        truncation: bool = True,
        show_progress: bool | None = None,
    ) -> Embeddings:
        """Encode a list of texts; the parts asked for are filled, the others are ``None``.

        - ``role`` picks the prefix (``query_prefix`` or ``document_prefix``).
        - ``parts``: any of ``"dense"``, ``"sparse"``, ``"colbert"`` (or ``"all"``).
        - Texts are tokenised, sorted by length and batched under ``batch_size`` texts and
          ``max_batch_tokens`` padded tokens; outputs come back in input order.
        - Truncation: by default texts are cut to ``max_length`` tokens, which defaults to the
          model's limit (512 for XLM-R/BERT checkpoints, 8192 for BGE-M3). With
          ``truncation=False`` a longer text raises :class:`InputTooLongError` instead.
        - A progress bar shows from 256 texts on (``show_progress`` forces it on or off).
        """
        texts = _check_texts(texts)
        wanted = self._check_parts(parts)
        if role not in ("query", "document"):
            raise ConfigurationError(f"role must be 'query' or 'document', got {role!r}")
        limit = self._check_max_length(max_length) or self.max_length
        token_ids = self.tokenize(texts, role=role, max_length=limit, truncation=truncation)
        if not texts:
            return self._empty(wanted)
        batches = plan_batches([len(t) for t in token_ids], max_batch_size=batch_size, max_batch_tokens=max_batch_tokens)
        dense = np.zeros((len(texts), self.dim), dtype=np.float32) if "dense" in wanted else None
        sparse: list[SparseVector | None] = [None] * len(texts)
        colbert: list[np.ndarray | None] = [None] * len(texts)
        progress = tqdm(
            total=len(texts), desc="encode", unit="text",
            disable=not (show_progress if show_progress is not None else len(texts) >= PROGRESS_THRESHOLD),
        )
        with torch.inference_mode(), progress:
            for batch in batches:
                ids, mask = self._pad([token_ids[i] for i in batch])
                out = self.model(ids.to(self.device), mask.to(self.device), parts=wanted)
                if dense is not None:
                    dense[batch] = out["dense"].float().cpu().numpy()
                lengths = mask.sum(dim=1).tolist()
                if "sparse" in out:
                    weights = out["sparse"].float().cpu().numpy()
                    ids_np = ids.numpy()
                    for row, i in enumerate(batch):
                        n = lengths[row]
                        sparse[i] = self._lexical_weights(ids_np[row, :n], weights[row, :n])
                if "colbert" in out:
                    vectors = out["colbert"].float().cpu().numpy()
                    for row, i in enumerate(batch):
                        colbert[i] = vectors[row, : lengths[row] - 1]
                progress.update(len(batch))
        return Embeddings(
            dense=dense,
            sparse=SparseBatch.from_vectors(sparse) if "sparse" in wanted else None,  # type: ignore[arg-type]
            colbert=Ragged.from_arrays(colbert, dim=self.colbert_dim) if "colbert" in wanted else None,  # type: ignore[arg-type]
        )

    def encode_queries(self, texts: Sequence[str], **kwargs: Any) -> Embeddings:
        """:meth:`encode` with ``role="query"``."""
        return self.encode(texts, role="query", **kwargs)

    def encode_documents(self, texts: Sequence[str], **kwargs: Any) -> Embeddings:
        """:meth:`encode` with ``role="document"``."""
        return self.encode(texts, role="document", **kwargs)

    def tokenize(
        self, texts: Sequence[str], *, role: Role = "document", max_length: int | None = None, truncation: bool = True
    ) -> list[list[int]]:
        """Token ids (special tokens included) of each text with the role's prefix."""
        texts = _check_texts(texts)
        if not texts:
            return []
        limit = max_length or self.max_length
        prefix = self.config.query_prefix if role == "query" else self.config.document_prefix
        prefixed = [prefix + t for t in texts] if prefix else list(texts)
        encoded = self.tokenizer(
            prefixed, add_special_tokens=True, truncation=truncation, max_length=limit if truncation else None,
            return_attention_mask=False, return_token_type_ids=False, verbose=False,
        )["input_ids"]
        if not truncation:
            for i, ids in enumerate(encoded):
                if len(ids) > limit:
                    raise InputTooLongError(
                        f"text {i} has {len(ids)} tokens, more than max_length={limit}; "
                        "pass truncation=True to cut it, or a larger max_length"
                    )
        return encoded

    def decode_token(self, token_id: int) -> str:
        """The text of one vocabulary entry (for explanations)."""
        return self.tokenizer.convert_ids_to_tokens(int(token_id))

    # ------------------------------------------------------------------ helpers
    def _check_parts(self, parts: Iterable[str] | str) -> tuple[str, ...]:
        requested = PARTS if parts == "all" else ((parts,) if isinstance(parts, str) else tuple(parts))
        if not requested:
            raise ConfigurationError("parts is empty: ask for at least one of 'dense', 'sparse', 'colbert'")
        unknown = [p for p in requested if p not in PARTS]
        if unknown:
            raise ConfigurationError(f"unknown part(s) {unknown}; choose from {list(PARTS)} or 'all'")
        missing = [p for p in requested if p not in self.parts]
        if missing:
            files = {"sparse": SPARSE_FILE, "colbert": COLBERT_FILE}
            raise MissingHeadError(
                f"model {self.config.name!r} has no {' or '.join(missing)} head "
                f"({', '.join(files[p] for p in missing)} not found); it produces {list(self.parts)}. "
                "Load a BGE-M3 checkpoint, or attach untrained heads with Encoder.add_heads() to train them."
            )
        return tuple(p for p in PARTS if p in requested)

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

    def _pad(self, sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        longest = max(len(s) for s in sequences)
        ids = np.full((len(sequences), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(sequences), longest), dtype=np.int64)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return torch.from_numpy(ids), torch.from_numpy(mask)

    def _lexical_weights(self, ids: np.ndarray, weights: np.ndarray) -> SparseVector:
        """Max weight per token id, special tokens and non-positive weights dropped."""
        keep = (weights > 0) & ~np.isin(ids, self._special_ids)
        ids, weights = ids[keep], weights[keep]
        unique, inverse = np.unique(ids, return_inverse=True)
        best = np.zeros(len(unique), dtype=np.float32)
        np.maximum.at(best, inverse, weights)
        return SparseVector(unique.astype(np.int64), best)

    def _empty(self, wanted: tuple[str, ...]) -> Embeddings:
        return Embeddings(
            dense=np.zeros((0, self.dim), dtype=np.float32) if "dense" in wanted else None,
            sparse=SparseBatch.from_vectors([]) if "sparse" in wanted else None,
            colbert=Ragged.from_arrays([], dim=self.colbert_dim) if "colbert" in wanted else None,
        )


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list of strings, not a single string: wrap it in a list")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
    return texts


def _load_head(path: Path, dtype: torch.dtype | None) -> nn.Linear | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        out_features, in_features = state["weight"].shape
        head = nn.Linear(in_features, out_features)
        head.load_state_dict(state)
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"cannot read head {path}: {exc}") from exc
    return head.to(dtype) if dtype is not None else head
