"""The torch backend of a cross-encoder: Hugging Face's ``AutoModelForSequenceClassification``
in float32 (torch stays in this module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError


class TorchScorer:
    """One logit per padded pair, computed in float32 on ``device`` (default: cuda if available)."""

    def __init__(self, path: Path, *, device: str | None = None) -> None:
        from transformers import AutoModelForSequenceClassification

        try:
            model = AutoModelForSequenceClassification.from_pretrained(str(path), dtype=torch.float32)
        except (OSError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"cannot read the reranker in {path}: {exc}") from exc
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        #: BERT-style models read the segment types; XLM-R (one type) is given zeros.
        self.uses_type_ids = int(getattr(model.config, "type_vocab_size", 1) or 1) > 1
        self._fingerprint: str | None = None

    @torch.inference_mode()
    def logits(self, ids: np.ndarray, mask: np.ndarray, type_ids: np.ndarray) -> np.ndarray:
        inputs = {"input_ids": torch.from_numpy(ids).to(self.device),
                  "attention_mask": torch.from_numpy(mask).to(self.device)}
        if self.uses_type_ids:
            inputs["token_type_ids"] = torch.from_numpy(type_ids).to(self.device)
        return self.model(**inputs).logits.view(-1).float().cpu().numpy()

    def weights_fingerprint(self) -> str:
        if self._fingerprint is None:
            from ..encode.backends.torch import _fingerprint

            self._fingerprint = _fingerprint(self.model)[:16]
        return self._fingerprint
