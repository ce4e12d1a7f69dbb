"""Save and load :class:`~m3search.types.Embeddings` with their ids, as NPZ or JSONL (no torch).

Every field of :data:`~m3search.types.FIELDS` present is written by its layout. NPZ arrays:
``ids``; a matrix under its name (``dense``); a sparse field in CSR (``sparse_indptr``,
``sparse_indices``, ``sparse_values``); a ragged one as ``<name>_data``, ``<name>_offsets``
(``colbert``, and ``dense_windows`` when the encoder kept every window's dense vector). JSONL:
one object per text with ``id`` and the fields present: a matrix row as a list, a sparse vector
as ``{"indices": [...], "values": [...]}`` (integer token ids), a ragged item as a list of lists.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "e.jsonl"
>>> save(path, ["a"], Embeddings(dense=np.array([[0.6, 0.8]], np.float32)))
>>> ids, e = load(path)
>>> ids, e.parts, e.dense.tolist()
(['a'], ('dense',), [[0.6000000238418579, 0.800000011920929]])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import FIELDS, EmbeddingField, Embeddings, Ragged, SparseBatch, SparseVector
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
    columns: dict[str, list[Any]] = {f.name: [] for f in FIELDS}
    for number, row in iter_json_lines(path):
        if "id" not in row:
            raise InputError(f"{path}:{number}: no 'id' field")
        ids.append(str(row["id"]))
        for f in FIELDS:
            if f.name in row:
                columns[f.name].append(_from_json(f, row[f.name]))
    return ids, Embeddings(**{f.name: _batch(f, columns[f.name]) for f in FIELDS if columns[f.name]})


def _from_json(f: EmbeddingField, value: Any) -> Any:
    """One document's value of field ``f`` from its JSON form."""
    if f.layout == "sparse":
        return SparseVector(np.array(value["indices"], dtype=np.int64), np.array(value["values"], dtype=np.float32))
    return np.array(value, dtype=np.float32)  # a ragged value is never empty: </s> is kept


def _to_json(f: EmbeddingField, value: Any) -> Any:
    """One document's value of field ``f`` in JSON form."""
    if f.layout == "sparse":
        return {"indices": value.ids.tolist(), "values": value.weights.tolist()}
    return value.tolist()


def _batch(f: EmbeddingField, values: list[Any]) -> Any:
    """The documents' values of field ``f`` as one batch."""
    if f.layout == "matrix":
        return np.array(values, dtype=np.float32)
    return SparseBatch.from_vectors(values) if f.layout == "sparse" else Ragged.from_arrays(values)


#: NPZ arrays of each layout, by suffix after the field's name ("" for the array itself).
NPZ_ARRAYS = {"matrix": ("",), "sparse": ("_indptr", "_indices", "_values"), "ragged": ("_data", "_offsets")}


def _npz_parts(f: EmbeddingField, value: Any) -> tuple[np.ndarray, ...]:
    """The arrays a value of field ``f`` is saved as, in :data:`NPZ_ARRAYS` order."""
    if f.layout == "matrix":
        return (value,)
    return (value.indptr, value.indices, value.values) if f.layout == "sparse" else (value.data, value.offsets)


def _from_npz(f: EmbeddingField, arrays: list[np.ndarray]) -> Any:
    """A value of field ``f`` from its saved arrays."""
    if f.layout == "matrix":
        return arrays[0]
    return SparseBatch(*arrays) if f.layout == "sparse" else Ragged(*arrays)


def _load_npz(path: Path) -> tuple[list[str], Embeddings]:
    fields: dict[str, Any] = {}
    with np.load(path, allow_pickle=False) as z:
        ids = [str(i) for i in z["ids"]]
        for f in FIELDS:
            names = [f.name + suffix for suffix in NPZ_ARRAYS[f.layout]]
            if names[0] in z:
                fields[f.name] = _from_npz(f, [z[name] for name in names])
    return ids, Embeddings(**fields)


def _save_npz(path: Path, ids: Sequence[str], e: Embeddings) -> None:
    arrays: dict[str, np.ndarray] = {"ids": np.array(list(ids), dtype=str)}
    for f in FIELDS:
        value = getattr(e, f.name)
        if value is None:
            continue
        arrays.update({f.name + suffix: part for suffix, part in zip(NPZ_ARRAYS[f.layout], _npz_parts(f, value))})
    with atomic_write(path, binary=True, suffix=".npz") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]


def _rows(ids: Sequence[str], e: Embeddings) -> Iterator[dict[str, Any]]:
    present = [(f, getattr(e, f.name)) for f in FIELDS if getattr(e, f.name) is not None]
    for i, doc_id in enumerate(ids):
        yield {"id": doc_id, **{f.name: _to_json(f, value[i]) for f, value in present}}
