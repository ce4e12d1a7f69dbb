"""Compact multi-vector heads: a lower-dimensional projection of the token states, learned on a frozen
encoder and distilled from the checkpoint's own full-size scores.

The multi-vector output is what makes ``all`` the best mode and what makes an index large: one row
of the head's width (1,024 for BGE-M3, 384 for multilingual-e5-small) per token. A compact head
replaces ``colbert_linear`` (``h -> d``) by ``h -> D`` with ``D`` small, *nested*: the first ``d``
of its ``D`` outputs, renormalised, are a head of width ``d`` for every ``d`` in ``dims``
(Matryoshka), so one training gives several sizes and the index picks one.

- **Start**: the principal directions of the full head's normalised rows (on the training texts'
  cached token states), ordered by variance: the best linear ``D``-dimensional summary of the
  full rows, and already nested.
- **Loss** (per batch, for every width ``d`` of ``dims``, averaged): InfoNCE of the compact
  multi-vector scores over in-batch negatives, plus the cross-entropy to the teacher's
  distribution, the softmax of the frozen full model's ``all`` scores (dense + 0.3 sparse +
  full multi-vector), as M3's self-distillation does.

The teacher's heads and the encoder never change; only the compact projection is trained.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigurationError
from .losses import ENSEMBLE_WEIGHTS, LossOutput, info_nce, kl_div
from .scores import colbert_scores, dense_scores, sparse_scores
from .step import TrainBatch
from .trainable import M3Trainable


def check_dims(dims: Sequence[int], full: int) -> tuple[int, ...]:
    """The nested widths, largest first; each positive and at most the full head's width.

    >>> check_dims([32, 128, 64], 384)
    (128, 64, 32)
    """
    if not dims:
        raise ConfigurationError("compact_colbert needs at least one width, e.g. [128, 64, 32]")
    bad = [d for d in dims if isinstance(d, bool) or not isinstance(d, int) or d < 1 or d > full]
    if bad:
        raise ConfigurationError(f"compact_colbert widths must be integers in 1..{full} (the full head's width), "
                                 f"got {bad[0]!r}")
    return tuple(sorted(set(dims), reverse=True))


class CompactColbert(nn.Module):
    """``h -> max(dims)`` rows, L2-normalised after truncation to a width of ``dims``."""

    def __init__(self, hidden: int, dims: Sequence[int]) -> None:
        super().__init__()
        self.dims = tuple(sorted(dims, reverse=True))
        self.linear = nn.Linear(hidden, self.dims[0])

    @classmethod
    def from_principal_directions(cls, full: nn.Linear, states: torch.Tensor, dims: Sequence[int]) -> CompactColbert:
        """The projection onto the top principal directions of ``full``'s normalised rows of ``states``
        (``(N, h)`` token states): ``W = P^T W_full``, ``b = P^T b_full``."""
        head = cls(full.in_features, dims)
        with torch.no_grad():
            rows = F.normalize(full(states.float()), dim=-1)
            centred = rows - rows.mean(dim=0, keepdim=True)
            _, _, directions = torch.linalg.svd(centred, full_matrices=False)  # rows of V^T by variance
            top = directions[: head.dims[0]]  # (D, d_full)
            head.linear.weight.copy_(top @ full.weight)
            head.linear.bias.copy_(top @ full.bias if full.bias is not None else torch.zeros(head.dims[0]))
        return head

    def rows(self, hidden: torch.Tensor, attention_mask: torch.Tensor, width: int) -> torch.Tensor:
        """Normalised rows of width ``width`` for every token but CLS: ``(N, L-1, width)``."""
        mask = attention_mask[:, 1:].to(hidden.dtype)[..., None]
        return F.normalize(self.linear(hidden[:, 1:])[..., :width] * mask, dim=-1)


def compact_loss(teacher: M3Trainable, head: CompactColbert, batch: TrainBatch, *,
                 temperature: float) -> LossOutput:
    """The loss of one batch of cached token states (see the module docstring)."""
    if batch.query_states is None or batch.passage_states is None:
        raise ConfigurationError("a compact head is trained on cached token states: freeze_encoder and cache_states")
    q_states, p_states = batch.query_states.float(), batch.passage_states.float()
    with torch.no_grad():
        q = teacher.reps_from_hidden(q_states, batch.query_ids, batch.query_mask)
        p = teacher.reps_from_hidden(p_states, batch.passage_ids, batch.passage_mask)
        assert q.dense is not None and q.sparse is not None and q.colbert is not None and q.colbert_mask is not None
        assert p.dense is not None and p.sparse is not None and p.colbert is not None and p.colbert_mask is not None
        ensemble = (ENSEMBLE_WEIGHTS["dense"] * dense_scores(q.dense, p.dense)
                    + ENSEMBLE_WEIGHTS["sparse"] * sparse_scores(q.sparse, p.sparse)
                    + ENSEMBLE_WEIGHTS["colbert"] * colbert_scores(q.colbert, q.colbert_mask, p.colbert, p.colbert_mask))
        target = torch.softmax(ensemble / temperature, dim=-1)
    parts: dict[str, float] = {}
    total = q_states.new_zeros(())
    for width in head.dims:
        scores = colbert_scores(head.rows(q_states, batch.query_mask, width), batch.query_mask[:, 1:],
                                head.rows(p_states, batch.passage_mask, width), batch.passage_mask[:, 1:]) / temperature
        loss = info_nce(scores, batch.group_size) + kl_div(target, scores)
        parts[f"colbert{width}"] = loss.item()
        total = total + loss
    total = total / len(head.dims)
    parts["loss"] = total.item()
    return LossOutput(total, parts)
