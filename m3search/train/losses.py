"""The M3 losses, exactly as the paper (v4) and the reference code (FlagEmbedding's
``EncoderOnlyEmbedderM3Model``) compute them.

Scores are divided by the temperature ``tau`` (0.02) first. With ``B`` queries each followed by
a group of ``G`` passages (the positive first), a score matrix is ``(B, B*G)`` and query ``i``'s
positive is column ``i*G``:

- per head, InfoNCE over in-batch negatives (:func:`info_nce`), or with teacher scores from the
  data, :func:`m3_kd_loss` or :func:`kl_div` plus InfoNCE on the group (:func:`head_loss`);
- the ensemble ``s_inter = 1*s_dense + 0.3*s_sparse + 1*s_multi`` gets its own loss;
- ``L = (L_dense + L_inter + 0.1*L_sparse + L_multi) / 4``;
- self-distillation with the ensemble's softmax as teacher: ``L' = (KD(t, s_dense) +
  0.1*KD(t, s_sparse) + KD(t, s_multi)) / 3`` (:func:`kl_div` over the whole in-batch row);
- ``final = (L + L') / 2`` from ``self_distill_start_step`` on, else ``L``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

#: The paper's temperature, ensemble weights (w1, w2, w3) and loss weights (lambda1..3).
TEMPERATURE = 0.02
ENSEMBLE_WEIGHTS = {"dense": 1.0, "sparse": 0.3, "colbert": 1.0}
LOSS_WEIGHTS = {"dense": 1.0, "sparse": 0.1, "colbert": 1.0}
KD_LOSS_TYPES = ("m3_kd_loss", "kl_div")


def positive_columns(num_queries: int, group_size: int, device: torch.device | None = None) -> torch.Tensor:
    """Column of each query's positive in a ``(B, B*G)`` matrix: ``0, G, 2G, ...``.

    >>> positive_columns(3, 4).tolist()
    [0, 4, 8]
    """
    return torch.arange(num_queries, device=device, dtype=torch.long) * group_size


def info_nce(scores: torch.Tensor, group_size: int) -> torch.Tensor:
    """Cross-entropy of each query's positive against every passage of the batch.

    >>> round(float(info_nce(torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]]), 2)), 4)
    0.3408
    """
    return F.cross_entropy(scores, positive_columns(scores.size(0), group_size, scores.device))


def kl_div(teacher: torch.Tensor, student_scores: torch.Tensor) -> torch.Tensor:
    """``-mean_i sum_j teacher[i, j] * log_softmax(student)[i, j]`` (the reference's ``kl_div``).

    >>> round(float(kl_div(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]))), 4)
    0.6931
    """
    return -torch.mean(torch.sum(torch.log_softmax(student_scores, dim=-1) * teacher, dim=-1))


def local_scores(scores: torch.Tensor, group_size: int) -> torch.Tensor:
    """Each query's scores against its own group: ``(B, B*G) -> (B, G)``.

    >>> local_scores(torch.arange(8.0).view(2, 4), 2).tolist()
    [[0.0, 1.0], [6.0, 7.0]]
    """
    rows = torch.arange(scores.size(0), device=scores.device)
    columns = positive_columns(scores.size(0), group_size, scores.device)[:, None] + torch.arange(group_size,
                                                                                                  device=scores.device)
    return scores[rows[:, None], columns]


def m3_kd_loss(teacher: torch.Tensor, scores: torch.Tensor, group_size: int) -> torch.Tensor:
    """The reference's ``m3_kd_loss``: for each group position ``k`` in turn, the teacher-weighted
    cross-entropy of passage ``k`` against the batch, earlier group members masked out."""
    labels = positive_columns(scores.size(0), group_size, scores.device)
    loss = scores.new_zeros(())
    mask = torch.zeros_like(scores)
    for k in range(group_size):
        target = labels + k
        per_query = F.cross_entropy(scores + mask, target, reduction="none")
        loss = loss + torch.mean(teacher[:, k] * per_query)
        mask = torch.scatter(mask, dim=-1, index=target.unsqueeze(-1), value=torch.finfo(scores.dtype).min)
    return loss


def head_loss(scores: torch.Tensor, group_size: int, teacher: torch.Tensor | None = None,
              kd_loss_type: str = "m3_kd_loss") -> torch.Tensor:
    """One head's loss over in-batch negatives, with teacher targets when the data has scores."""
    if teacher is None:
        return info_nce(scores, group_size)
    if kd_loss_type == "kl_div":
        return kl_div(teacher, local_scores(scores, group_size)) + info_nce(scores, group_size)
    if kd_loss_type == "m3_kd_loss":
        return m3_kd_loss(teacher, scores, group_size)
    raise ValueError(f"kd_loss_type must be one of {KD_LOSS_TYPES}, got {kd_loss_type!r}")


@dataclass
class LossOutput:
    """The loss to optimise and its parts (detached floats, for logging)."""

    loss: torch.Tensor
    parts: dict[str, float] = field(default_factory=dict)


def unified_loss(
    dense: torch.Tensor,
    sparse: torch.Tensor | None,
    colbert: torch.Tensor | None,
    group_size: int,
    *,
    teacher: torch.Tensor | None = None,
    kd_loss_type: str = "m3_kd_loss",
    self_distill: bool = True,
    dense_local: torch.Tensor | None = None,
) -> LossOutput:
    """The M3 loss from temperature-scaled score matrices ``(B, B*G)``.

    ``dense`` may span more queries and passages than the others (negatives gathered across
    devices); ``dense_local`` is then its block for this process's batch, used in the ensemble.
    Without ``sparse`` and ``colbert`` this is dense-only training (the plain InfoNCE).
    """
    dense_loss = head_loss(dense, group_size, teacher, kd_loss_type)
    if sparse is None or colbert is None:
        return LossOutput(dense_loss, {"dense": dense_loss.item(), "loss": dense_loss.item()})
    dense_block = dense if dense_local is None else dense_local
    sparse_loss = head_loss(sparse, group_size, teacher, kd_loss_type)
    colbert_loss = head_loss(colbert, group_size, teacher, kd_loss_type)
    ensemble = (ENSEMBLE_WEIGHTS["dense"] * dense_block + ENSEMBLE_WEIGHTS["sparse"] * sparse
                + ENSEMBLE_WEIGHTS["colbert"] * colbert)
    ensemble_loss = head_loss(ensemble, group_size, teacher, kd_loss_type)
    loss = (LOSS_WEIGHTS["dense"] * dense_loss + ensemble_loss + LOSS_WEIGHTS["sparse"] * sparse_loss
            + LOSS_WEIGHTS["colbert"] * colbert_loss) / 4
    parts = {"dense": dense_loss.item(), "sparse": sparse_loss.item(), "colbert": colbert_loss.item(),
             "ensemble": ensemble_loss.item()}
    if self_distill:
        target = torch.softmax(ensemble.detach(), dim=-1)
        distill = (LOSS_WEIGHTS["dense"] * kl_div(target, dense_block) + LOSS_WEIGHTS["sparse"] * kl_div(target, sparse)
                   + LOSS_WEIGHTS["colbert"] * kl_div(target, colbert)) / 3
        parts["distill"] = distill.item()
        loss = (loss + distill) / 2
    parts["loss"] = loss.item()
    return LossOutput(loss, parts)
