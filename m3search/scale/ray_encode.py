"""Encode a corpus on a Ray cluster (Ray Data, one model per actor) and write it to an index.

``pip install "m3search[ray]"``. The corpus becomes a Ray dataset of ``(row, text)``;
``map_batches`` runs an :class:`EncodeActor` pool (``ray.data.ActorPoolStrategy``, one model per
actor, ``num_gpus`` per actor on GPU nodes) and the driver writes what comes back: the embedded
index has one writer (its lock), and a Qdrant server takes the driver's batches as well, so both
targets are filled the same way. Ids, texts and metadata stay in the driver; only texts travel
to the workers and only embeddings come back.

Exactly once: a document's point id is the UUID5 of its id, so writing a batch twice (Ray
retries the batch of a worker that died, on a restarted actor: ``max_restarts`` and
``max_task_retries`` are unlimited) replaces it with itself; the driver counts each id once and
checks at the end that every document arrived.

>>> import functools; from m3search.encode import Encoder
>>> loader = functools.partial(Encoder.load, "tests/fixtures/tiny-m3", device="cpu")
>>> callable(loader)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigurationError
from ..index.facade import Index
from ..index.ingest import CHUNK, check_records, ingest
from ..index.lock import DEFAULT_WAIT
from ..index.options import IndexOptions
from ..io.jsonl import Record
from ..types import FIELDS, Embeddings, Ragged, SparseBatch, SparseVector

if TYPE_CHECKING:
    from ..protocols import EncoderLike

#: ``() -> Encoder``: how each actor (and the driver, for the index's identity) loads the model;
#: must pickle (a module-level function or a ``functools.partial`` of one).
EncoderLoader = Callable[[], "EncoderLike"]
#: A local Ray started here runs its workers at the driver's priority: Ray's default niceness of
#: 15 starves the encoding actors on a machine doing anything else (3.7x slower here while an
#: evaluation ran). A cluster joined by address keeps its own setting.
LOCAL_RAY: dict[str, Any] = {"_system_config": {"worker_niceness": 0}}
FIELD_LAYOUTS = {f.name: f.layout for f in FIELDS}


def require_ray() -> Any:
    """The ``ray`` module, or an install hint."""
    try:
        import ray
        import ray.data  # Ray Data ships in the "data" extra of ray
    except ImportError as exc:
        raise ConfigurationError('encoding with Ray needs the ray extra: pip install "m3search[ray]"') from exc
    return ray


class EncodeActor:
    """One model per actor; encodes a batch of ``{"row", "text"}`` into embedding columns."""

    def __init__(self, loader: EncoderLoader, parts: Sequence[str], batch_size: int) -> None:
        self.encoder = loader()
        self.parts = tuple(parts)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        e = self.encoder.encode(texts, parts=self.parts, batch_size=self.batch_size, show_progress=False)
        return to_columns(np.asarray(batch["row"], np.int64), e)


def to_columns(rows: np.ndarray, e: Embeddings) -> dict[str, np.ndarray]:
    """Embeddings as Ray Data columns, by :data:`~m3search.types.FIELDS`: a matrix as one column,
    a sparse field as ``<name>_ids`` and ``<name>_weights``, ragged items as object arrays of arrays.

    >>> e = Embeddings(dense=np.eye(2, dtype=np.float32))
    >>> sorted(to_columns(np.arange(2), e))
    ['dense', 'row']
    """
    out: dict[str, np.ndarray] = {"row": rows}
    for name, value in e.present():
        layout = FIELD_LAYOUTS[name]
        if layout == "matrix":
            out[name] = value
        elif layout == "sparse":
            out[f"{name}_ids"] = _objects([v.ids for v in value])
            out[f"{name}_weights"] = _objects([v.weights for v in value])
        else:
            out[name] = _objects(list(value))
    return out


def _objects(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """A column of arrays of different lengths."""
    column = np.empty(len(arrays), dtype=object)
    column[:] = [np.asarray(a) for a in arrays]
    return column


def from_columns(batch: dict[str, Any]) -> tuple[np.ndarray, Embeddings]:
    """``(rows, embeddings)`` back from :func:`to_columns`' columns (as Ray hands them over).

    >>> rows, e = from_columns(to_columns(np.arange(2), Embeddings(dense=np.eye(2, dtype=np.float32))))
    >>> rows.tolist(), e.dense.shape
    ([0, 1], (2, 2))
    """

    def arrays(name: str, dtype: Any) -> list[np.ndarray]:
        return [np.asarray(a, dtype=dtype) for a in batch[name]]

    fields: dict[str, Any] = {}
    for f in FIELDS:
        if f.layout == "sparse" and f"{f.name}_ids" in batch:
            pairs = zip(arrays(f"{f.name}_ids", np.int64), arrays(f"{f.name}_weights", np.float32))
            fields[f.name] = SparseBatch.from_vectors([SparseVector(i, w) for i, w in pairs])
        elif f.layout == "matrix" and f.name in batch:
            fields[f.name] = np.asarray(batch[f.name], np.float32)
        elif f.layout == "ragged" and f.name in batch:
            fields[f.name] = Ragged.from_arrays(arrays(f.name, np.float32))
    return np.asarray(batch["row"], np.int64), Embeddings(**fields)


def index_records_ray(
    loader: EncoderLoader,
    records: Sequence[Record],
    target: str | Path | Any,
    *,
    actors: int = 1,
    gpus_per_actor: float = 0,
    address: str | None = None,
    parts: Sequence[str] | None = None,
    colbert_storage: str | None = None,
    batch_size: int = 64,
    rows_per_task: int = 256,
    show_progress: bool = True,
    wait: float = DEFAULT_WAIT,
    encoder: EncoderLike | None = None,
    settings: Any = None,
    compression: Mapping[str, Any] | None = None,
    options: IndexOptions | None = None,
) -> Index:
    """:func:`~m3search.index.index_records` with the encoding spread over Ray actors; returns the index open.

    The Ray pipeline is one more encoding source of :func:`~m3search.index.ingest.ingest`, the
    loop that checks the records, opens or creates the index and writes what arrives.

    Args:
        loader: ``() -> Encoder``, run once in each actor (pickled).
        records: the corpus; checked whole before anything starts.
        target: an index directory, a Qdrant URL or a backend.
        actors: size of the actor pool; ``gpus_per_actor`` 1 on GPU nodes.
        address: the cluster (``"auto"``, ``"ray://host:10001"``); ``None`` connects to the
            cluster ``ray.init`` already joined, or starts a local one.
        rows_per_task: texts per Ray batch (each actor encodes them in token-budget batches).
        encoder: the encoder itself when the driver already holds one (its identity names the
            index); otherwise the driver loads one with ``loader``.
        options: a new index's :class:`~m3search.index.IndexOptions` (or the keywords ``parts``,
            ``colbert_storage``, ``settings``, ``compression``).
    """
    ray = require_ray()
    if actors < 1:
        raise ConfigurationError(f"actors must be >= 1, got {actors}")
    chosen = IndexOptions.of(options, parts=parts, colbert_storage=colbert_storage, settings=settings,
                             compression=compression)
    check_records(records)  # before a cluster starts
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, include_dashboard=False,
                 **({} if address else LOCAL_RAY))
    encoder = encoder if encoder is not None else loader()

    source = ray_source(ray, loader, records, actors=actors, gpus_per_actor=gpus_per_actor, batch_size=batch_size,
                        rows_per_task=rows_per_task)
    return ingest(records, target, encoder.identity, source, options=chosen, wait=wait, show_progress=show_progress,
                  label="index (ray)", checked=True)


def ray_source(ray: Any, loader: EncoderLoader, records: Sequence[Record], *, actors: int, gpus_per_actor: float,
               batch_size: int, rows_per_task: int) -> Callable[[Index], Iterator[tuple[np.ndarray, Embeddings]]]:
    """The encoding source :func:`~m3search.index.ingest.ingest` reads: the records' texts through
    an actor pool, back to the driver in chunks of ``(rows, embeddings)``."""

    def encoded(index: Index) -> Iterator[tuple[np.ndarray, Embeddings]]:
        dataset = ray.data.from_items([{"row": i, "text": r.text} for i, r in enumerate(records)],
                                      override_num_blocks=max(1, -(-len(records) // rows_per_task)))
        batches = dataset.map_batches(
            EncodeActor, fn_constructor_args=(loader, index.parts, batch_size), batch_size=rows_per_task,
            batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors), num_gpus=gpus_per_actor or None,
            num_cpus=None if gpus_per_actor else 1,
        )
        for batch in batches.iter_batches(batch_size=CHUNK, batch_format="numpy"):
            yield from_columns(batch)

    return encoded
