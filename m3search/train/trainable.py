"""The training forward pass: texts (or cached token states) to :class:`~.scores.Reps`, with
gradients, on the same :class:`~m3search.encode.backends.torch.M3Network` that inference runs.

Sub-batches: ``sub_batch_size`` splits a padded batch into row slices, each run under
activation checkpointing, so that only one slice's activations are alive at a time while the
loss still sees the whole batch (the gradients equal the full batch's: ``tests/train``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..encode.backends.torch import M3Network
from .scores import Reps, lexical_vectors


class M3Trainable(nn.Module):
    """An :class:`M3Network` with the pooling and normalisation of its encoder config."""

    def __init__(self, network: M3Network, *, pooling: str, normalize: bool, special_ids: list[int],
                 vocab_size: int, freeze_encoder: bool = False) -> None:
        super().__init__()
        self.network = network
        self.pooling = pooling
        self.normalize = normalize
        self.vocab_size = int(vocab_size)
        self.special_ids: torch.Tensor
        self.register_buffer("special_ids", torch.tensor(sorted(special_ids), dtype=torch.long), persistent=False)
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            for parameter in network.backbone.parameters():
                parameter.requires_grad_(False)

    @property
    def unified(self) -> bool:
        """True when both heads are present (unified fine-tuning); else dense only."""
        return self.network.sparse_linear is not None and self.network.colbert_linear is not None

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ encoding
    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.freeze_encoder:
            with torch.no_grad():
                return self.network.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.network.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def reps_from_hidden(self, hidden: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Reps:
        """Dense, sparse and multi-vector representations from last hidden states ``(N, L, h)``."""
        mask = attention_mask.to(hidden.dtype)
        if self.pooling == "cls":
            dense = hidden[:, 0]
        else:
            dense = (hidden * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1)
        if self.normalize:
            dense = F.normalize(dense, dim=-1)
        if not self.unified:
            return Reps(dense=dense)
        assert self.network.sparse_linear is not None and self.network.colbert_linear is not None
        weights = self.network.token_weights(hidden, input_ids)
        sparse = lexical_vectors(input_ids, weights, self.vocab_size, self.special_ids)
        colbert = self.network.colbert_linear(hidden[:, 1:]) * mask[:, 1:, None]
        if self.normalize:
            colbert = F.normalize(colbert, dim=-1)
        return Reps(dense=dense, sparse=sparse, colbert=colbert, colbert_mask=attention_mask[:, 1:])

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, sub_batch_size: int | None = None,
               states: torch.Tensor | None = None) -> Reps:
        """Representations of a padded batch; ``states`` (cached last hidden states) skip the encoder."""
        if sub_batch_size is None or sub_batch_size >= input_ids.size(0):
            return self._encode_rows(input_ids, attention_mask, states)
        pieces = []
        for start in range(0, input_ids.size(0), sub_batch_size):
            rows = slice(start, start + sub_batch_size)
            piece_states = None if states is None else states[rows]
            pieces.append(checkpoint(self._encode_tuple, input_ids[rows], attention_mask[rows], piece_states,
                                     use_reentrant=False))
        joined = [torch.cat([p[i] for p in pieces]) if pieces[0][i] is not None else None for i in range(3)]
        return Reps(dense=joined[0], sparse=joined[1], colbert=joined[2],
                    colbert_mask=attention_mask[:, 1:] if joined[2] is not None else None)

    def _encode_rows(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     states: torch.Tensor | None) -> Reps:
        hidden = self.hidden_states(input_ids, attention_mask) if states is None else states
        return self.reps_from_hidden(hidden, input_ids, attention_mask)

    def _encode_tuple(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      states: torch.Tensor | None) -> tuple[Any, Any, Any]:
        reps = self._encode_rows(input_ids, attention_mask, states)
        return reps.dense, reps.sparse, reps.colbert
