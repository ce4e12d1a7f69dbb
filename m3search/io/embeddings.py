"""Save and load :class:`~m3search.types.Embeddings` with their ids, as NPZ or JSONL (no torch).

NPZ arrays: ``ids``; ``dense``; ``sparse_indptr``, ``sparse_indices``, ``sparse_values`` (CSR);
``colbert_data``, ``colbert_offsets`` (ragged); ``dense_windows_data``, ``dense_windows_offsets``
when the encoder kept every window's dense vector. JSONL: one object per text with ``id`` and the
parts present: ``dense`` (list), ``sparse`` (``{"indices": [...], "values": [...]}``, integer
token ids), ``colbert`` (list of lists), ``dense_windows`` (list of lists).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import Embeddings, Ragged, SparseBatch, SparseVector
from .atomic import atomic_write
from .jsonl import iter_json_lines, write_jsonl

FORMATS = ("npz", "jsonl")


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix not in FORMATS:
        raise InputError(f"cannot tell the format of {str(path)!r}: use a .npz or .jsonl file name")
    return suffix


def save(path: str | Path, ids: Sequence[str], embeddings: Embeddings) -> None:
    """Write ``embeddings`` and their ``ids`` in the format the file name's suffix names."""
    if len(ids) != len(embeddings):
        raise InputError(f"{len(ids)} ids for {len(embeddings)} embeddings")
    if format_of(path) == "npz":
        _save_npz(Path(path), ids, embeddings)
    else:
        write_jsonl(path, _rows(ids, embeddings))


def load(path: str | Path) -> tuple[list[str], Embeddings]:
    """Read what :func:`save` wrote."""
    if format_of(path) == "npz":
        return _load_npz(Path(path))
    ids: list[str] = []
    dense: list[list[float]] = []
    sparse: list[SparseVector] = []
    colbert: list[np.ndarray] = []
    windows: list[np.ndarray] = []
    for number, row in iter_json_lines(path):
        if "id" not in row:
            raise InputError(f"{path}:{number}: no 'id' field")
        ids.append(str(row["id"]))
        if "dense" in row:
            dense.append(row["dense"])
        if "sparse" in row:
            sparse.append(SparseVector(np.array(row["sparse"]["indices"], dtype=np.int64),
                                       np.array(row["sparse"]["values"], dtype=np.float32)))
        if "colbert" in row:
            colbert.append(np.array(row["colbert"], dtype=np.float32))  # never empty: </s> is kept
        if "dense_windows" in row:
            windows.append(np.array(row["dense_windows"], dtype=np.float32))
    return ids, Embeddings(
        dense=np.array(dense, dtype=np.float32) if dense else None,
        sparse=SparseBatch.from_vectors(sparse) if sparse else None,
        colbert=Ragged.from_arrays(colbert) if colbert else None,
        dense_windows=Ragged.from_arrays(windows) if windows else None,
    )


def _load_npz(path: Path) -> tuple[list[str], Embeddings]:
    with np.load(path, allow_pickle=False) as z:
        ids = [str(i) for i in z["ids"]]
        dense = z.get("dense")
        sparse = SparseBatch(z["sparse_indptr"], z["sparse_indices"], z["sparse_values"]) if "sparse_indptr" in z else None
        colbert = Ragged(z["colbert_data"], z["colbert_offsets"]) if "colbert_data" in z else None
        windows = Ragged(z["dense_windows_data"], z["dense_windows_offsets"]) if "dense_windows_data" in z else None
    return ids, Embeddings(dense=dense, sparse=sparse, colbert=colbert, dense_windows=windows)


def _save_npz(path: Path, ids: Sequence[str], e: Embeddings) -> None:
    arrays: dict[str, np.ndarray] = {"ids": np.array(list(ids), dtype=str)}
    if e.dense is not None:
        arrays["dense"] = e.dense
    if e.sparse is not None:
        arrays.update(sparse_indptr=e.sparse.indptr, sparse_indices=e.sparse.indices, sparse_values=e.sparse.values)
    if e.colbert is not None:
        arrays.update(colbert_data=e.colbert.data, colbert_offsets=e.colbert.offsets)
    if e.dense_windows is not None:
        arrays.update(dense_windows_data=e.dense_windows.data, dense_windows_offsets=e.dense_windows.offsets)
    with atomic_write(path, binary=True, suffix=".npz") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]


def _rows(ids: Sequence[str], e: Embeddings) -> Iterator[dict[str, Any]]:
    for i, doc_id in enumerate(ids):
        row: dict[str, Any] = {"id": doc_id}
        if e.dense is not None:
            row["dense"] = e.dense[i].tolist()
        if e.sparse is not None:
            v = e.sparse[i]
            row["sparse"] = {"indices": v.ids.tolist(), "values": v.weights.tolist()}
        if e.colbert is not None:
            row["colbert"] = e.colbert[i].tolist()
        if e.dense_windows is not None:
            row["dense_windows"] = e.dense_windows[i].tolist()
        yield row
