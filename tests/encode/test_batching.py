from __future__ import annotations

import random

import pytest

from m3search.encode.batching import plan_batches


def test_every_index_once_and_budget_respected():
    rng = random.Random(0)
    lengths = [rng.randint(1, 600) for _ in range(500)]
    batches = plan_batches(lengths, max_batch_size=32, max_batch_tokens=4096)
    assert sorted(i for b in batches for i in b) == list(range(500))
    for batch in batches:
        assert len(batch) <= 32
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 4096
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat, reverse=True), "longest first"


def test_rejects_nonpositive_limits():
    with pytest.raises(ValueError, match="batch size must be >= 1"):
        plan_batches([1], max_batch_size=0, max_batch_tokens=10)
