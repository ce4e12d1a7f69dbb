"""Embeddings saved and loaded by the field table: every field, both formats, and Ray's columns."""

from __future__ import annotations

import numpy as np
import pytest

from m3search.io import embeddings as embeddings_io
from m3search.scale.ray_encode import from_columns, to_columns
from m3search.types import FIELDS, Embeddings, Ragged, SparseBatch, SparseVector


def every_field() -> Embeddings:
    return Embeddings(
        dense=np.array([[0.6, 0.8], [1.0, 0.0]], np.float32),
        sparse=SparseBatch.from_vectors([SparseVector(np.array([3, 7]), np.array([0.5, 0.25], np.float32)),
                                         SparseVector(np.array([], np.int64), np.array([], np.float32))]),
        colbert=Ragged.from_arrays([np.full((2, 2), 0.5, np.float32), np.full((1, 2), -0.5, np.float32)]),
        dense_windows=Ragged.from_arrays([np.eye(2, dtype=np.float32), np.array([[1.0, 0.0]], np.float32)]),
    )


def assert_same(got: Embeddings, expected: Embeddings) -> None:
    assert got.parts == expected.parts
    np.testing.assert_allclose(got.dense, expected.dense)
    assert [v.to_dict() for v in got.sparse] == [{3: 0.5, 7: 0.25}, {}]
    for name in ("colbert", "dense_windows"):
        assert getattr(got, name).lengths.tolist() == getattr(expected, name).lengths.tolist()
        np.testing.assert_allclose(getattr(got, name).data, getattr(expected, name).data)


@pytest.mark.parametrize("suffix", ["npz", "jsonl"])
def test_every_field_round_trips(tmp_path, suffix):
    path = tmp_path / f"e.{suffix}"
    embeddings_io.save(path, ["a", "b"], every_field())
    ids, loaded = embeddings_io.load(path)
    assert ids == ["a", "b"]
    assert_same(loaded, every_field())


def test_the_npz_arrays_keep_their_names(tmp_path):
    embeddings_io.save(tmp_path / "e.npz", ["a", "b"], every_field())
    with np.load(tmp_path / "e.npz") as z:
        assert sorted(z.files) == ["colbert_data", "colbert_offsets", "dense", "dense_windows_data",
                                   "dense_windows_offsets", "ids", "sparse_indices", "sparse_indptr", "sparse_values"]


def test_ray_columns_carry_every_field():
    rows, back = from_columns(to_columns(np.array([4, 9]), every_field()))
    assert rows.tolist() == [4, 9]
    assert_same(back, every_field())


def test_only_and_take_follow_the_table():
    e = every_field()
    assert {f.name for f in FIELDS} == {"dense", "sparse", "colbert", "dense_windows"}
    dense_only = e.only(["dense"])
    assert dense_only.parts == ("dense",) and dense_only.dense_windows is not None  # the windows go with dense
    assert e.only(["colbert"]).dense_windows is None
    taken = e.take([1])
    assert taken.dense_windows.lengths.tolist() == [1] and taken.sparse[0].to_dict() == {}
