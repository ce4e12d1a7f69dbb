"""Fixed dimensional encodings of multi-vectors (MUVERA, Dhulipala et al., 2024), for a multi-vector
first stage: one dense vector per document that the engine's HNSW indexes, whose inner product with a
query's encoding approximates the Chamfer (MaxSim-sum) similarity; candidates are then rescored exactly.

Per repetition ``r`` (of ``reps``): ``k_sim`` random hyperplanes (SimHash) split the space into
``2**k_sim`` buckets; a document's vectors are averaged per bucket (an empty bucket takes the first
vector of the nearest occupied bucket by Hamming distance of bucket codes), a query's are summed;
each bucket's vector is projected by a random +-1 matrix to ``dim_proj`` (scaled by
``1/sqrt(dim_proj)``). The encoding concatenates buckets and repetitions:
``reps * 2**k_sim * dim_proj`` dimensions.

The random matrices are drawn exactly as fastembed's ``Muvera`` draws them, so for the same
parameters and seed the encodings are the same (``tests/index/test_fde.py`` checks it against
goldens that ``scripts/make_fde_goldens.py`` writes with fastembed). fastembed's implementation loops over vectors in Python (about 15 ms per
190-row document); this one projects first (the projection is linear, so the bucket means of
projected rows equal the projection of the bucket means) and aggregates whole batches with numpy.

>>> fde = FDE(dim=4, k_sim=2, dim_proj=2, reps=3, seed=0)
>>> fde.dim
24
>>> rows = np.eye(4, dtype=np.float32)
>>> docs = fde.documents(Ragged.from_arrays([rows, rows[:2]]))
>>> q = fde.queries(Ragged.from_arrays([rows[:1]]))
>>> docs.shape, q.shape, bool(q @ docs[0] > 0)
((2, 24), (1, 24), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..errors import ConfigurationError
from ..types import Ragged

#: Largest ``k_sim``: 2**k_sim buckets per repetition, each ``dim_proj`` wide.
MAX_K_SIM = 10


@dataclass(frozen=True)
class FDEParams:
    """What an index records of its fixed dimensional encoding: with the multi-vector width, it
    fixes every random matrix."""

    k_sim: int = 4
    dim_proj: int = 8
    reps: int = 8
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("k_sim", "dim_proj", "reps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"FDE {name} must be a positive integer, got {value!r}")
        if self.k_sim > MAX_K_SIM:
            raise ConfigurationError(f"FDE k_sim must be at most {MAX_K_SIM} (2**k_sim buckets), got {self.k_sim}")

    def output_dim(self) -> int:
        return self.reps * (2**self.k_sim) * self.dim_proj


@dataclass
class FDE:
    """The encoder of one parameter set for multi-vectors of width ``dim`` (see the module)."""

    dim: int = field(init=False)
    width: int
    params: FDEParams

    def __init__(self, dim: int, k_sim: int = 4, dim_proj: int = 8, reps: int = 8, seed: int = 42) -> None:
        self.params = FDEParams(k_sim, dim_proj, reps, seed)
        if dim_proj > dim:
            raise ConfigurationError(f"FDE dim_proj ({dim_proj}) cannot exceed the multi-vector width ({dim})")
        self.width = dim
        self.dim = self.params.output_dim()
        rng = np.random.default_rng(seed)
        # drawn in fastembed's order: one (dim, k_sim) hyperplane matrix per repetition, then the
        # +-1 projections of every repetition at once
        self._planes = np.stack([rng.normal(size=(dim, k_sim)) for _ in range(reps)]).astype(np.float32)
        signs = rng.choice([-1, 1], size=(reps, dim, dim_proj))
        scale = 1.0 if dim_proj == dim else 1.0 / np.sqrt(dim_proj)
        self._projections = (signs if dim_proj < dim else np.broadcast_to(np.eye(dim), signs.shape)) * scale
        self._projections = self._projections.astype(np.float32)
        self._all_planes = np.concatenate(list(self._planes), axis=1)  # (dim, reps * k_sim)
        self._all_projections = np.concatenate(list(self._projections), axis=1)  # (dim, reps * dim_proj)
        buckets = range(2**k_sim)
        self._hamming = np.array([[(a ^ b).bit_count() for b in buckets] for a in buckets], dtype=np.int32)

    @classmethod
    def from_params(cls, dim: int, params: FDEParams) -> FDE:
        return cls(dim, params.k_sim, params.dim_proj, params.reps, params.seed)

    def documents(self, rows: Ragged) -> np.ndarray:
        """``(n, self.dim)`` float32 encodings: bucket means, empty buckets filled."""
        return self._encode(rows, document=True)

    def queries(self, rows: Ragged) -> np.ndarray:
        """``(n, self.dim)`` float32 encodings: bucket sums, empty buckets zero."""
        return self._encode(rows, document=False)

    def _encode(self, rows: Ragged, *, document: bool) -> np.ndarray:
        if rows.data.shape[1] != self.width and len(rows.data):
            raise ConfigurationError(f"FDE built for {self.width}-d multi-vectors, got {rows.data.shape[1]}-d rows")
        n, buckets, k_sim = len(rows), 2**self.params.k_sim, self.params.k_sim
        lengths = rows.lengths
        if n and (lengths == 0).any():
            raise ConfigurationError(f"multi-vector {int(np.flatnonzero(lengths == 0)[0])} has no rows: it has no FDE")
        owner = np.repeat(np.arange(n), lengths)
        out = np.zeros((n, self.params.reps, buckets, self.params.dim_proj), dtype=np.float32)
        data = np.asarray(rows.data, dtype=np.float32)
        reps, dim_proj = self.params.reps, self.params.dim_proj
        # every repetition's hyperplanes and projections in one product each
        codes = ((data @ self._all_planes) > 0).reshape(len(data), reps, k_sim).astype(np.int64) @ (1 << np.arange(k_sim))
        projected = (data @ self._all_projections).reshape(len(data), reps, dim_proj)
        for r in range(reps):
            key = owner * buckets + codes[:, r]
            # bucket sums as a sparse one-hot product: much faster than np.add.at
            one_hot = sparse.csr_matrix((np.ones(len(key), np.float32), (key, np.arange(len(key)))),
                                        shape=(n * buckets, len(key)))
            sums = np.asarray(one_hot @ projected[:, r], dtype=np.float32)
            if document:
                counts = np.bincount(key, minlength=n * buckets)
                occupied = counts > 0
                sums[occupied] /= counts[occupied, None]
                sums = self._fill(sums.reshape(n, buckets, -1), key, projected[:, r], occupied.reshape(n, buckets))
            out[:, r] = sums.reshape(n, buckets, -1)
        return out.reshape(n, -1)

    def _fill(self, centers: np.ndarray, key: np.ndarray, projected: np.ndarray, occupied: np.ndarray) -> np.ndarray:
        """Each empty bucket takes the first row of the occupied bucket nearest in Hamming distance
        (ties: the smaller bucket code)."""
        n, buckets = occupied.shape
        if occupied.all():
            return centers
        first = np.full(n * buckets, -1, dtype=np.int64)
        unique, index = np.unique(key, return_index=True)
        first[unique] = index
        distance = np.where(occupied[:, None, :], self._hamming[None], np.iinfo(np.int32).max)
        nearest = distance.argmin(axis=2)  # (n, buckets)
        doc, bucket = np.nonzero(~occupied)
        centers[doc, bucket] = projected[first[doc * buckets + nearest[doc, bucket]]]
        return centers
