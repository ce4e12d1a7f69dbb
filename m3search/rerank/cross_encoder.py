"""The cross-encoder: one logit per (query, passage) pair, as ``FlagReranker.compute_score``
gives it (no torch until a model is loaded).

>>> ce = CrossEncoder.load("tests/fixtures/tiny-reranker", device="cpu")
>>> scores = ce.score([("Wie hoch ist der Everest?", "Der Everest ist 8848 m hoch."), ("q", "p")])
>>> scores.dtype, scores.shape
(dtype('float32'), (2,))
>>> bool(((ce.score([("q", "p")], normalize=True) > 0) & (ce.score([("q", "p")], normalize=True) < 1)).all())
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from ..encode.batching import plan_batches
from ..encode.checkpoints import hub
from ..encode.tokenizer import TextTokenizer
from ..errors import CheckpointError, ConfigurationError
from .pairs import check_pairs, padded, pair_inputs

#: Short names of cross-encoders (hub ids, downloaded on first use).
RERANKER_SHORT_NAMES = {"bge-reranker-v2-m3": "BAAI/bge-reranker-v2-m3"}
#: Backends a cross-encoder runs on: torch, or ONNX Runtime on a graph exported once (float32 or int8 weights).
RERANK_BACKENDS = ("torch", "onnx", "onnx-int8")


class LogitScorer(Protocol):
    """What runs the network: a batch of padded pairs in, one logit per pair out."""

    uses_type_ids: bool

    def logits(self, ids: np.ndarray, mask: np.ndarray, type_ids: np.ndarray) -> np.ndarray: ...

    def weights_fingerprint(self) -> str: ...


class CrossEncoder:
    """A sequence-classification model with one label that scores a query and a passage together."""

    def __init__(self, scorer: LogitScorer, tokenizer: TextTokenizer, *, name: str, source: str,
                 max_positions: int, backend: str = "torch") -> None:
        self.scorer = scorer
        self.tokenizer = tokenizer
        #: The model's name (as given) and how to load it again.
        self.name, self.source, self.backend = name, source, backend
        self.max_positions = max_positions

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str], *, backend: str = "torch", device: str | None = None) -> CrossEncoder:
        """A cross-encoder from a local directory, a hub id, or a short name
        (:data:`RERANKER_SHORT_NAMES`): the bge-reranker-v2-m3 layout (XLM-R) or any Hugging Face
        ``*ForSequenceClassification`` checkpoint with one label."""
        if backend not in RERANK_BACKENDS:
            raise ConfigurationError(f"unknown reranker backend {backend!r}; known: {list(RERANK_BACKENDS)}")
        name = str(name_or_path)
        path = hub.resolve(RERANKER_SHORT_NAMES.get(name, name))
        config = check_classifier(path)
        tokenizer = TextTokenizer.load(path)
        if tokenizer.backend.post_processor is None:
            raise CheckpointError(f"the tokenizer in {path} has no pair template (post-processor): a cross-encoder "
                                  "needs one to join a query and a passage")
        scorer: LogitScorer
        if backend == "torch":
            from .torch_scorer import TorchScorer

            scorer = TorchScorer(path, device=device)
        else:
            from .onnx_scorer import OnnxScorer

            scorer = OnnxScorer(path, backend)
        positions = int(config.get("max_position_embeddings", 512)) - (2 if config.get("model_type") in
                                                                       ("xlm-roberta", "roberta") else 0)
        return cls(scorer, tokenizer, name=name, source=name if not Path(name).exists() else str(path.resolve()),
                   max_positions=positions, backend=backend)

    @property
    def identity(self) -> dict[str, Any]:
        """What names this model in results and responses: its name, source and a weights fingerprint."""
        return {"name": self.name, "source": self.source, "weights": self.scorer.weights_fingerprint(),
                "backend": self.backend}

    def score(self, pairs: Sequence[Sequence[str]], *, max_length: int = 512, query_max_length: int | None = None,
              normalize: bool = False, batch_size: int = 128, max_batch_tokens: int = 16_384,
              show_progress: bool | None = None) -> np.ndarray:
        """One float32 score per pair, in input order: the model's logit, or its sigmoid with
        ``normalize`` (FlagReranker's ``normalize=True``). Pairs are run longest first in batches
        of at most ``batch_size`` pairs and ``max_batch_tokens`` padded tokens."""
        checked = check_pairs(pairs)
        if not checked:
            return np.zeros(0, dtype=np.float32)
        if max_length > self.max_positions:
            raise ConfigurationError(f"max_length={max_length} exceeds the {self.max_positions} positions of "
                                     f"reranker {self.name!r}")
        inputs = pair_inputs(self.tokenizer, checked, max_length=max_length, query_max_length=query_max_length)
        batches = plan_batches([len(x.ids) for x in inputs], max_batch_size=batch_size, max_batch_tokens=max_batch_tokens)
        out = np.empty(len(inputs), dtype=np.float32)
        progress = len(batches) > 4 if show_progress is None else show_progress
        for batch in tqdm(batches, desc="rerank", unit="batch", disable=not progress):
            ids, mask, types = padded([inputs[i] for i in batch], self.tokenizer.pad_id)
            out[batch] = self.scorer.logits(ids, mask, types if self.scorer.uses_type_ids else np.zeros_like(types))
        return (1.0 / (1.0 + np.exp(-out))).astype(np.float32) if normalize else out


def check_classifier(path: Path) -> dict[str, Any]:
    """The checkpoint's ``config.json``, refused unless it is a sequence classifier with one label."""
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read the reranker's config in {path}: {exc}") from exc
    architectures = config.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        raise ConfigurationError(f"{path} is not a cross-encoder: its architectures are {architectures}, not a "
                                 "*ForSequenceClassification model")
    labels = len(config["id2label"]) if isinstance(config.get("id2label"), dict) else int(config.get("num_labels", 2))
    if labels != 1:
        raise ConfigurationError(f"{path} is a classifier with {labels} labels: a reranker gives one relevance logit "
                                 "per pair (num_labels=1), as bge-reranker-v2-m3 does")
    return config
