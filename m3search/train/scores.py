"""Training scores in torch: the same mathematics as :mod:`m3search.scoring` (numpy), on padded
batches with gradients. ``tests/train/test_scores.py`` pins the two equal.

A batch of ``N`` texts is held as :class:`Reps`:

- ``dense``: ``(N, h)``, L2-normalised;
- ``sparse``: ``(N, V)``, the full-vocabulary lexical weights (max per token id, special
  tokens zeroed), so that a sparse score is a dot product;
- ``colbert``: ``(N, L-1, d)`` L2-normalised rows (CLS dropped) with ``colbert_mask`` ``(N, L-1)``.

:func:`colbert_scores` masks padded document rows out of the maximum. FlagEmbedding's training
code leaves them in as zero vectors, which floors each MaxSim at 0; the two agree whenever a
query token's best match is positive (always, in practice, and on the parity batch), and the
masked form is what the index computes at search time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Reps:
    """Representations of a batch of texts (see the module docstring); a part may be ``None``."""

    dense: torch.Tensor | None = None
    sparse: torch.Tensor | None = None
    colbert: torch.Tensor | None = None
    colbert_mask: torch.Tensor | None = None


def dense_scores(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``q @ p.T``: ``(m, h) x (n, h) -> (m, n)``."""
    return q @ p.transpose(0, 1)


def sparse_scores(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Lexical matching scores of full-vocabulary weight vectors: ``(m, V) x (n, V) -> (m, n)``."""
    return q @ p.transpose(0, 1)


def colbert_scores(q: torch.Tensor, q_mask: torch.Tensor, p: torch.Tensor, p_mask: torch.Tensor) -> torch.Tensor:
    """MaxSim averaged over each query's real rows: ``(m, s, d), (n, t, d) -> (m, n)``.

    ``score[i, j] = sum_a max_b q[i, a] . p[j, b] / |q_i|`` over real rows ``a`` of query ``i``
    and real rows ``b`` of document ``j``.
    """
    sims = torch.einsum("qsd,ptd->qspt", q, p)
    blocked = torch.finfo(sims.dtype).min
    sims = sims.masked_fill(~p_mask.bool()[None, None, :, :], blocked)
    best = sims.max(dim=-1).values  # (m, s, n)
    best = best * q_mask.to(best.dtype)[:, :, None]
    return best.sum(dim=1) / q_mask.sum(dim=1, keepdim=True).to(best.dtype).clamp(min=1)


def lexical_vectors(token_ids: torch.Tensor, token_weights: torch.Tensor, vocab_size: int,
                    special_ids: torch.Tensor) -> torch.Tensor:
    """Full-vocabulary weights: the maximum weight per token id, special tokens zeroed.

    ``token_ids`` and ``token_weights`` are ``(N, L)``; the result is ``(N, vocab_size)``. Never
    builds ``(N, L, V)`` (``scatter_reduce`` with ``amax``; weights are ``>= 0``, so starting
    from zeros changes nothing).
    """
    full = torch.zeros(token_ids.size(0), vocab_size, dtype=token_weights.dtype, device=token_weights.device)
    full = full.scatter_reduce(1, token_ids, token_weights, reduce="amax", include_self=True)
    keep = torch.ones(vocab_size, dtype=token_weights.dtype, device=token_weights.device)
    keep[special_ids] = 0
    return full * keep
