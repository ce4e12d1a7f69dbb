"""Cross-device negatives with ``torch.distributed`` (gloo on CPU, NCCL on GPU).

Every process gathers the representations of all processes' batches; its own slot keeps its
gradient. The loss is then the loss of the combined batch on every process, and gradients are
summed across processes (:func:`sum_gradients`), so that ``W`` processes compute exactly the
loss and gradients of one process on the combined batch (``tests/train/test_distributed.py``).

Unlike the reference code, which gathers dense vectors only, all three heads see the remote
negatives here: the sparse and multi-vector losses would otherwise differ from the combined
batch's, and the ensemble would mix global and local negatives.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather(t: torch.Tensor) -> torch.Tensor:
    """Concatenate ``t`` from every process along dim 0; this process's slice keeps its gradient."""
    if not is_distributed():
        return t
    t = t.contiguous()
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t)
    parts[dist.get_rank()] = t
    return torch.cat(parts, dim=0)


def gather_padded(t: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """:func:`gather` for tensors whose size along ``dim`` differs across processes (padded with zeros)."""
    if not is_distributed():
        return t
    size = torch.tensor([t.size(dim)], device=t.device)
    dist.all_reduce(size, op=dist.ReduceOp.MAX)
    missing = int(size.item()) - t.size(dim)
    if missing:
        pad = [0, 0] * (t.dim() - 1 - dim) + [0, missing]
        t = F.pad(t, pad)
    return gather(t)


def sum_gradients(parameters: list[torch.nn.Parameter]) -> None:
    """All-reduce (sum) the gradients of ``parameters`` across processes."""
    if not is_distributed():
        return
    for parameter in parameters:
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1
