"""The M3 network: a transformer backbone with dense pooling and optional sparse and
multi-vector heads. ``forward`` keeps gradients, so training uses it as it is.

For a padded batch of ``B`` texts of length ``L`` and hidden size ``h``:

- dense: ``pool(H)`` (CLS: ``H[:, 0]``; mean over the attention mask), L2-normalised if asked;
- sparse: ``relu(sparse_linear(H))`` → ``(B, L)`` token weights (never ``(B, L, vocab)``);
- colbert: ``colbert_linear(H[:, 1:]) * mask[:, 1:]``, L2-normalised if asked → ``(B, L-1, d_c)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import Pooling


class M3Model(nn.Module):
    """Backbone plus heads; ``colbert_linear``/``sparse_linear`` are ``None`` when absent."""

    def __init__(
        self,
        backbone: nn.Module,
        *,
        pooling: Pooling,
        normalize: bool,
        colbert_linear: nn.Linear | None = None,
        sparse_linear: nn.Linear | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        self.normalize = normalize
        self.colbert_linear = colbert_linear
        self.sparse_linear = sparse_linear

    @property
    def hidden_size(self) -> int:
        return int(self.backbone.config.hidden_size)

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        parts: tuple[str, ...] = ("dense",),
    ) -> dict[str, torch.Tensor]:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        out: dict[str, torch.Tensor] = {}
        if "dense" in parts:
            dense = self.pool(hidden, attention_mask)
            out["dense"] = F.normalize(dense, dim=-1) if self.normalize else dense
        if "sparse" in parts:
            assert self.sparse_linear is not None, "caller checks heads"
            out["sparse"] = torch.relu(self.sparse_linear(hidden)).squeeze(-1)
        if "colbert" in parts:
            assert self.colbert_linear is not None, "caller checks heads"
            vectors = self.colbert_linear(hidden[:, 1:]) * attention_mask[:, 1:, None].to(hidden.dtype)
            out["colbert"] = F.normalize(vectors, dim=-1) if self.normalize else vectors
        return out
