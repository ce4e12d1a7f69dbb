"""How a new index stores its documents: :class:`IndexOptions`, one object from the CLI, the
Python API and ingestion down to the manifest (no torch).

An existing index keeps what its manifest records: an option given for it that differs is a
:class:`~m3search.errors.ConfigurationError`, never silently ignored. The settings a preset
fills are the exception on an index that recorded the same preset: it keeps those it was built
with (an earlier version of the preset may have filled fewer). A new storage setting is a
field here, recorded in the manifest by :meth:`IndexOptions.manifest` and read by the
vector-spec table (:func:`~m3search.index.vectors.vector_specs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..types import PARTS
from . import codecs
from .manifest import COLBERT_SEARCH, COLBERT_STORAGE, DENSE_STORAGE, Manifest, colbert_search_of

if TYPE_CHECKING:
    from .backends.edge import ShardSettings
    from .backends.remote import CollectionSettings

#: The storage reductions ``compression`` may name (see :mod:`~m3search.index.pooling`).
COMPRESSION_KEYS = ("colbert_pool_factor", "sparse_top_k", "sparse_min_weight")
#: The options besides ``compression`` a preset fills when they are left unset.
PRESET_FIELDS = ("colbert_storage", "dense_storage", "fde", "quantization", "hnsw", "colbert_search")


@dataclass(frozen=True)
class IndexOptions:
    """Options of a new index; ``None`` leaves each to its default (or, for an existing index, to
    what it holds).

    - ``parts``: the parts stored (default: all the encoder produces);
    - ``colbert_storage``: ``float16`` (default), ``float32`` or ``uint8`` multi-vectors;
    - ``dense_storage``: ``float32`` (default), ``float16`` (half the bytes) or ``uint8`` (a
      quarter, the multi-vectors' codes, :mod:`~m3search.index.codecs`) dense vectors; the
      engine's HNSW graph and scores read them as stored;
    - ``compression``: ``{"colbert_pool_factor": int, "sparse_top_k": int, "sparse_min_weight": float}``,
      or a preset's name (``"compact"``, :mod:`~m3search.index.presets`) that fills the storage
      options left unset;
    - ``settings``: the engine layout, a :class:`~m3search.index.ShardSettings` for a directory or a
      :class:`~m3search.index.backends.remote.CollectionSettings` for a Qdrant server.

    >>> options = IndexOptions(parts=["dense"], colbert_storage="uint8")
    >>> options.parts, options.manifest({"name": "toy", "dim": 2, "parts": ["dense", "sparse"]}).parts
    (('dense',), ('dense',))
    >>> IndexOptions.of(options, colbert_storage="float32").colbert_storage
    'float32'
    >>> compact = IndexOptions(compression="compact")
    >>> compact.preset, compact.colbert_storage, compact.compression
    ('compact', 'uint8', {'colbert_pool_factor': 2})
    """

    parts: Iterable[str] | None = None
    colbert_storage: str | None = None
    dense_storage: str | None = None
    compression: Mapping[str, Any] | str | None = None
    settings: ShardSettings | CollectionSettings | None = None
    #: a multi-vector first stage: MUVERA encodings of the multi-vector rows under an HNSW graph
    #: (``{"k_sim", "dim_proj", "reps", "seed", "storage"}``, missing keys at their defaults; see
    #: :mod:`~m3search.index.fde`)
    fde: Mapping[str, Any] | None = None
    #: the engine's own quantisation: ``{"vectors": {name: method}, "oversampling": float,
    #: "rescore": bool}`` (see :func:`check_quantization`)
    quantization: Mapping[str, Any] | None = None
    #: the engine's HNSW graphs of the searched vectors (dense, the FDE): ``{"m": int,
    #: "ef_construct": int}`` (see :func:`check_hnsw`; default the engine's 16 and 100)
    hnsw: Mapping[str, Any] | None = None
    #: how ``colbert`` searches this index unless a searcher says otherwise: ``"candidates"`` (the
    #: candidates of every first stage the index holds, FDE, dense and sparse, rescored exactly)
    #: or ``"scan"`` (every document's rows); default (``None``): candidates on an index with an
    #: FDE first stage, a scan on one without (exact, and slow on a large index)
    colbert_search: str | None = None
    #: the preset ``compression`` named, once its settings are filled in (recorded in the manifest)
    preset: str | None = None
    #: the options the preset filled in (not given by the caller)
    preset_filled: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.parts is not None:  # a generator is read once
            object.__setattr__(self, "parts", tuple(self.parts))
        if isinstance(self.compression, str):
            self._fill_from_preset(self.compression)
        if self.colbert_storage is not None and self.colbert_storage not in COLBERT_STORAGE:
            raise ConfigurationError(f"colbert_storage must be one of {COLBERT_STORAGE}, got {self.colbert_storage!r}")
        if self.dense_storage is not None and self.dense_storage not in DENSE_STORAGE:
            raise ConfigurationError(f"dense_storage must be one of {DENSE_STORAGE}, got {self.dense_storage!r}")
        if self.reductions:
            object.__setattr__(self, "compression", check_compression(self.reductions))
        if self.fde is not None:
            object.__setattr__(self, "fde", check_fde(self.fde))
        if self.quantization is not None:
            object.__setattr__(self, "quantization", check_quantization(self.quantization))
        if self.hnsw is not None:
            object.__setattr__(self, "hnsw", check_hnsw(self.hnsw))
        if self.colbert_search is not None and self.colbert_search not in COLBERT_SEARCH:
            raise ConfigurationError(f"colbert_search must be one of {COLBERT_SEARCH}, got {self.colbert_search!r}")

    @property
    def colbert_by_candidates(self) -> bool:
        """Whether ``colbert`` searches the index these options build through its first stages
        (an FDE, or ``colbert_search="candidates"``), as :attr:`Manifest.colbert_search` reads it."""
        return colbert_search_of(self.colbert_search, self.fde is not None) == "candidates"

    @property
    def reductions(self) -> dict[str, Any]:
        """The storage reductions ``compression`` names (a preset's, once its name is resolved)."""
        return dict(self.compression) if isinstance(self.compression, Mapping) else {}

    def _fill_from_preset(self, name: str) -> None:
        from .presets import preset

        chosen = preset(name)
        again = self.preset == chosen.name  # the same preset resolved again (``replace``): what it filled stays its
        object.__setattr__(self, "preset", chosen.name)
        object.__setattr__(self, "compression", dict(chosen.compression))
        filled = ["compression"] + [key for key in PRESET_FIELDS
                                    if getattr(self, key) is None or (again and key in self.preset_filled)]
        for key in filled:
            if getattr(self, key) is None:
                object.__setattr__(self, key, getattr(chosen, key))
        object.__setattr__(self, "preset_filled", tuple(filled))

    @classmethod
    def of(cls, options: IndexOptions | None = None, **given: Any) -> IndexOptions:
        """``options`` with each keyword that is not ``None`` in place of its field (how the
        functions that take both an options object and the separate keywords combine them)."""
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown index option(s) {sorted(unknown)}")
        set_here = {k: v for k, v in given.items() if v is not None}
        base = options or cls()
        if base.preset_filled:  # a value given here is no longer the preset's
            set_here["preset_filled"] = tuple(k for k in base.preset_filled if k not in set_here)
        return replace(base, **set_here)

    def manifest(self, encoder_identity: Mapping[str, Any]) -> Manifest:
        """The manifest of a new index built by the encoder ``encoder_identity`` describes."""
        available = tuple(encoder_identity["parts"])
        chosen = tuple(p for p in PARTS if p in (available if self.parts is None else self.parts))
        unknown = [p for p in (self.parts or ()) if p not in available]
        if unknown or not chosen:
            raise ConfigurationError(f"parts {list(self.parts or ())} not all produced by the encoder, "
                                     f"which gives {list(available)}")
        extra: dict[str, Any] = {"compression": self.reductions} if self.reductions else {}
        if self.dense_storage not in (None, "float32"):
            if "dense" in chosen:
                extra["dense_storage"] = self.dense_storage
            elif "dense_storage" not in self.preset_filled:  # (a preset's, on an index without dense: moot)
                raise ConfigurationError(f"dense_storage={self.dense_storage!r}: the index holds no dense vectors")
        if self.preset is not None:
            from .presets import preset

            preset(self.preset).check_encoder(encoder_identity)
            extra["preset"] = self.preset
        if self.fde is not None:
            if "colbert" not in chosen:
                raise ConfigurationError("an FDE first stage encodes the multi-vectors: the index must hold 'colbert'")
            width = int(encoder_identity.get("colbert_dim") or 0)
            if self.fde["dim_proj"] > width:
                raise ConfigurationError(f"FDE dim_proj ({self.fde['dim_proj']}) cannot exceed the multi-vector width ({width})")
            extra["fde"] = dict(self.fde)
        if self.quantization is not None:
            extra["quantization"] = dict(self.quantization)
        if self.hnsw is not None:
            extra["hnsw"] = dict(self.hnsw)
        if self.colbert_search is not None and self._checked_colbert_search(chosen):
            extra["colbert_search"] = self.colbert_search
        if (self.colbert_storage == "uint8" and "colbert" in chosen) or extra.get("dense_storage") == "uint8":
            extra["uint8_codec"] = codecs.CURRENT_CODEC  # older indexes, without it, keep layout 1
        manifest = Manifest(encoder=dict(encoder_identity), parts=chosen, colbert_storage=self.colbert_storage or "float16",
                            extra=extra)
        if self.quantization is not None:
            names = [s.name for s in manifest.vectors]
            missing = [n for n in self.quantization["vectors"] if n not in names]
            if missing:
                raise ConfigurationError(f"cannot quantise {missing}: the index stores {names}")
        return manifest

    def _checked_colbert_search(self, chosen: tuple[str, ...]) -> bool:
        """Whether ``colbert_search`` applies to an index of the parts ``chosen``: it needs
        multi-vectors, and candidates need a first stage (a preset's is moot on an index without them)."""
        staged = self.fde is not None or "dense" in chosen or "sparse" in chosen
        if "colbert" in chosen and (self.colbert_search == "scan" or staged):
            return True
        if "colbert_search" in self.preset_filled:
            return False
        if "colbert" not in chosen:
            raise ConfigurationError(f"colbert_search={self.colbert_search!r} (--colbert-search): the index holds no "
                                     "multi-vectors (store 'colbert', or leave it out)")
        raise ConfigurationError("colbert_search='candidates' (--colbert-search candidates) needs a first stage: the "
                                 "index holds no dense or sparse part and no FDE (store one, or leave it out)")

    def refuse_differences(self, existing: Manifest, wanted: Manifest, target: Any, on_disk: bool | None) -> None:
        """Raise :class:`ConfigurationError` for the first option given that the existing index
        at ``target`` does not have (``on_disk``: whether its vectors are on disk, when known)."""
        keep = "leave the option out, or build a new index"
        same_preset = self.preset is not None and existing.extra.get("preset") == self.preset

        def given(key: str) -> bool:  # what an index built with the same preset (by any version) keeps
            return getattr(self, key) is not None and not (same_preset and key in self.preset_filled)

        if self.parts is not None and wanted.parts != existing.parts:
            raise ConfigurationError(f"the index at {target} holds parts {list(existing.parts)}, not "
                                     f"{list(wanted.parts)}: an existing index keeps its parts ({keep})")
        storage = self.colbert_storage
        if given("colbert_storage") and "colbert" in existing.parts and storage != existing.colbert_storage:
            raise ConfigurationError(f"the index at {target} stores multi-vectors as {existing.colbert_storage}, not "
                                     f"{storage}: an existing index keeps its storage ({keep})")
        dense = self.dense_storage
        if given("dense_storage") and "dense" in existing.parts and dense != existing.dense_storage:
            raise ConfigurationError(f"the index at {target} stores dense vectors as {existing.dense_storage}, not "
                                     f"{dense}: an existing index keeps its storage ({keep})")
        if getattr(self.settings, "on_disk", False) and on_disk is False:
            raise ConfigurationError(f"the index at {target} keeps its vectors in memory, not on disk: an existing "
                                     "index keeps its layout (leave --on-disk out, or build a new index with it)")
        if given("fde") and wanted.fde != existing.fde:
            raise ConfigurationError(f"the index at {target} has the multi-vector first stage {existing.fde}, not "
                                     f"{wanted.fde}: an existing index keeps its own ({keep})")
        if given("quantization") and wanted.extra.get("quantization") != existing.extra.get("quantization"):
            raise ConfigurationError(f"the index at {target} has the quantisation {existing.extra.get('quantization')}, "
                                     f"not {wanted.extra.get('quantization')}: an existing index keeps its own ({keep})")
        if given("hnsw") and wanted.extra.get("hnsw") != existing.extra.get("hnsw"):
            raise ConfigurationError(f"the index at {target} has the HNSW graphs {existing.extra.get('hnsw')}, not "
                                     f"{wanted.extra.get('hnsw')}: an existing index keeps its own ({keep})")
        if given("colbert_search") and wanted.colbert_search != existing.colbert_search:
            raise ConfigurationError(f"the index at {target} searches colbert by {existing.colbert_search!r}, not "
                                     f"{wanted.colbert_search!r}: an existing index keeps its own ({keep})")
        if given("compression") and wanted.compression != existing.compression:
            raise ConfigurationError(f"the index at {target} was built with compression {existing.compression}, not "
                                     f"{wanted.compression}: an existing index keeps its own (leave the options out, "
                                     "or build a new index)")


def check_compression(compression: Mapping[str, Any]) -> dict[str, Any]:
    """The non-default storage reductions (see :mod:`~m3search.index.pooling`), checked.

    >>> check_compression({"colbert_pool_factor": 1, "sparse_top_k": 64})
    {'sparse_top_k': 64}
    """
    from .pooling import check_settings

    unknown = set(compression) - set(COMPRESSION_KEYS)
    if unknown:
        raise ConfigurationError(f"unknown compression setting(s) {sorted(unknown)}; known: {list(COMPRESSION_KEYS)}")
    check_settings(compression.get("colbert_pool_factor", 1), compression.get("sparse_top_k"),
                   compression.get("sparse_min_weight"))
    return {k: v for k, v in compression.items() if v is not None and not (k == "colbert_pool_factor" and v == 1)}



#: The HNSW settings an index may set, and their bounds (the engine's defaults: 16 and 100).
HNSW_BOUNDS = {"m": (4, 128), "ef_construct": (8, 4096)}


def check_hnsw(settings: Mapping[str, Any]) -> dict[str, int]:
    """The HNSW graph settings, checked and completed with the engine's defaults.

    More links (``m``) and a wider beam while building (``ef_construct``) give a graph whose
    searches find more of the true neighbours, for a longer build and (``m``) more bytes.

    >>> check_hnsw({"m": 32})
    {'m': 32, 'ef_construct': 100}
    """
    unknown = set(settings) - set(HNSW_BOUNDS)
    if unknown:
        raise ConfigurationError(f"unknown HNSW setting(s) {sorted(unknown)}; known: m, ef_construct")
    checked = {"m": 16, "ef_construct": 100}
    for key, (low, high) in HNSW_BOUNDS.items():
        value = settings.get(key, checked[key])
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigurationError(f"HNSW {key} must be an integer in [{low}, {high}], got {value!r}")
        checked[key] = value
    return checked


#: Datatypes an FDE vector may be stored in (the engine's own quantisation compresses further).
FDE_STORAGE = ("float16", "float32")


def check_fde(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The FDE first stage's settings, checked and completed with the defaults.

    >>> check_fde({"reps": 4})
    {'k_sim': 4, 'dim_proj': 8, 'reps': 4, 'seed': 42, 'storage': 'float16'}
    """
    from .fde import FDEParams

    unknown = set(settings) - {"k_sim", "dim_proj", "reps", "seed", "storage"}
    if unknown:
        raise ConfigurationError(f"unknown FDE setting(s) {sorted(unknown)}; known: k_sim, dim_proj, reps, seed, storage")
    storage = settings.get("storage", "float16")
    if storage not in FDE_STORAGE:
        raise ConfigurationError(f"FDE storage must be one of {FDE_STORAGE}, got {storage!r}")
    defaults = FDEParams()
    params = FDEParams(**{k: settings.get(k, getattr(defaults, k)) for k in ("k_sim", "dim_proj", "reps", "seed")})
    return {"k_sim": params.k_sim, "dim_proj": params.dim_proj, "reps": params.reps, "seed": params.seed,
            "storage": storage}


#: The engine's quantisation methods: scalar int8, binary (1 bit per dimension) and TurboQuant
#: (1, 2, 4 or 8 bits per dimension); the originals stay stored beside the quantised copy.
QUANTIZATION = ("int8", "binary", "turbo1", "turbo2", "turbo4", "turbo8")
#: The vectors the engine may quantise (sparse vectors are not quantised).
QUANTIZABLE = ("dense", "colbert", "colbert_fde")


def check_quantization(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The engine quantisation settings, checked and completed: ``vectors`` (name -> method),
    ``oversampling`` (candidates read from the quantised copy per hit wanted, default 2) and
    ``rescore`` (rescore them on the originals, default true).

    >>> check_quantization({"vectors": {"dense": "int8"}})
    {'vectors': {'dense': 'int8'}, 'oversampling': 2.0, 'rescore': True}
    """
    unknown = set(settings) - {"vectors", "oversampling", "rescore"}
    if unknown:
        raise ConfigurationError(f"unknown quantisation setting(s) {sorted(unknown)}; known: vectors, oversampling, rescore")
    vectors = dict(settings.get("vectors") or {})
    if not vectors:
        raise ConfigurationError("quantisation names no vector: e.g. {'vectors': {'dense': 'int8'}}")
    for name, method in vectors.items():
        if name not in QUANTIZABLE:
            raise ConfigurationError(f"cannot quantise {name!r}: the engine quantises {list(QUANTIZABLE)}")
        if method not in QUANTIZATION:
            raise ConfigurationError(f"unknown quantisation {method!r} for {name!r}; known: {list(QUANTIZATION)}")
    oversampling = settings.get("oversampling", 2.0)
    if isinstance(oversampling, bool) or not isinstance(oversampling, (int, float)) or not 1 <= oversampling <= 100:
        raise ConfigurationError(f"quantisation oversampling must be a number in [1, 100], got {oversampling!r}")
    rescore = settings.get("rescore", True)
    if not isinstance(rescore, bool):
        raise ConfigurationError(f"quantisation rescore must be true or false, got {rescore!r}")
    binary = [name for name, method in vectors.items() if method == "binary"]
    if binary and not rescore:
        raise ConfigurationError(f"binary quantisation of {binary} needs rescore: its scores are Hamming "
                                 "similarities, not on the dot product's scale that fusion weighs")
    return {"vectors": vectors, "oversampling": float(oversampling), "rescore": rescore}
