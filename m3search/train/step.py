"""One training step's loss: a collated batch through :class:`~.model.M3Trainable`, the score
matrices of every head (gathered across processes when distributed), and :func:`unified_loss`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import distributed
from .losses import TEMPERATURE, LossOutput, unified_loss
from .scores import colbert_scores, dense_scores, sparse_scores
from .trainable import M3Trainable


@dataclass
class TrainBatch:
    """``B`` queries and ``B*G`` passages (each query's group in a row: positive first), padded."""

    query_ids: torch.Tensor
    query_mask: torch.Tensor
    passage_ids: torch.Tensor
    passage_mask: torch.Tensor
    group_size: int
    teacher_scores: torch.Tensor | None = None  # (B, G) raw teacher scores
    query_states: torch.Tensor | None = None  # cached last hidden states (frozen encoder)
    passage_states: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> TrainBatch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return TrainBatch(self.query_ids.to(device), self.query_mask.to(device), self.passage_ids.to(device),
                          self.passage_mask.to(device), self.group_size, move(self.teacher_scores),
                          move(self.query_states), move(self.passage_states))


def compute_loss(model: M3Trainable, batch: TrainBatch, *, temperature: float = TEMPERATURE,
                 kd_loss_type: str = "m3_kd_loss", self_distill: bool = True,
                 sub_batch_size: int | None = None, train_sparse: bool = True) -> LossOutput:
    """The unified M3 loss of one batch (dense-only when the model has no heads); with
    ``train_sparse=False`` the sparse scores count in every term but give the sparse head no gradient."""
    q = model.encode(batch.query_ids, batch.query_mask, sub_batch_size=sub_batch_size, states=batch.query_states)
    p = model.encode(batch.passage_ids, batch.passage_mask, sub_batch_size=sub_batch_size,
                     states=batch.passage_states)
    teacher = None
    if batch.teacher_scores is not None:
        teacher = distributed.gather(torch.softmax(batch.teacher_scores.float(), dim=-1))
    assert q.dense is not None and p.dense is not None
    dense = dense_scores(distributed.gather(q.dense), distributed.gather(p.dense)) / temperature
    if not model.unified:
        return unified_loss(dense, None, None, batch.group_size, teacher=teacher, kd_loss_type=kd_loss_type)
    assert q.sparse is not None and p.sparse is not None and q.colbert is not None and p.colbert is not None
    assert q.colbert_mask is not None and p.colbert_mask is not None
    sparse = sparse_scores(distributed.gather(q.sparse), distributed.gather(p.sparse)) / temperature
    if not train_sparse:
        sparse = sparse.detach()
    colbert = colbert_scores(distributed.gather_padded(q.colbert), distributed.gather_padded(q.colbert_mask),
                             distributed.gather_padded(p.colbert), distributed.gather_padded(p.colbert_mask))
    return unified_loss(dense, sparse, colbert / temperature, batch.group_size, teacher=teacher,
                        kd_loss_type=kd_loss_type, self_distill=self_distill)
