from __future__ import annotations

import numpy as np
import pytest

from m3search.types import Embeddings, Ragged, SparseBatch, SparseVector


def test_parts_of_one_batch_must_agree_in_length():
    with pytest.raises(ValueError, match="differ in length"):
        Embeddings(dense=np.zeros((2, 3), np.float32), colbert=Ragged.from_arrays([np.zeros((1, 3), np.float32)]))


def test_take_reorders_every_part():
    e = Embeddings(
        dense=np.arange(6, dtype=np.float32).reshape(3, 2),
        sparse=SparseBatch.from_vectors([SparseVector(np.array([i]), np.array([float(i)], np.float32)) for i in range(3)]),
        colbert=Ragged.from_arrays([np.full((i + 1, 2), i, np.float32) for i in range(3)]),
    )
    t = e.take([2, 0])
    assert t.dense.tolist() == [[4, 5], [0, 1]]
    assert [v.to_dict() for v in t.sparse] == [{2: 2.0}, {0: 0.0}]
    assert t.colbert.lengths.tolist() == [3, 1]
    assert t.parts == ("dense", "sparse", "colbert")


def test_empty_batch():
    e = Embeddings(dense=np.zeros((0, 4), np.float32), sparse=SparseBatch.from_vectors([]),
                   colbert=Ragged.from_arrays([], dim=4))
    assert len(e) == 0 and e.colbert.dim == 4 and list(e.sparse) == []
