"""Length-sorted batches under a token budget (pure Python, no torch).

Sorting by length keeps padding small; the budget bounds the padded size of a batch
(``count * longest``), so a few long texts do not share a batch with many others.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConfigurationError


def plan_batches(lengths: Sequence[int], *, max_batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Group indices, longest first, so that each batch has at most ``max_batch_size`` items
    and ``len(batch) * longest_in_batch <= max_batch_tokens`` (a single longer text is alone).

    >>> plan_batches([3, 10, 4, 9], max_batch_size=8, max_batch_tokens=20)
    [[1, 3], [2, 0]]
    >>> plan_batches([5, 5, 5], max_batch_size=2, max_batch_tokens=100)
    [[0, 1], [2]]
    """
    if max_batch_size < 1:
        raise ConfigurationError(f"batch size must be >= 1, got {max_batch_size}")
    if max_batch_tokens < 1:
        raise ConfigurationError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        if current and (len(current) >= max_batch_size or (len(current) + 1) * longest > max_batch_tokens):
            batches.append(current)
            current = []
        if not current:
            longest = lengths[i]
        current.append(i)
    if current:
        batches.append(current)
    return batches
