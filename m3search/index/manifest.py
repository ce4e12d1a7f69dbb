"""The manifest an index keeps beside its data: format version, schema and encoder identity."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IndexFormatError, IndexMismatchError
from ..identity import differences
from ..io.atomic import atomic_write_text
from .codecs import CODECS

if TYPE_CHECKING:
    from .vectors import VectorSpec

#: 2: the encoder identity describes the model (architecture, weights fingerprint), not its path.
FORMAT_VERSION = 2
MANIFEST_FILE = "manifest.json"
COLBERT_STORAGE = ("float16", "float32", "uint8")
#: Datatypes the dense vector may be stored in (the engine scores float16 as stored, half the bytes;
#: uint8 codes, a quarter, :mod:`~m3search.index.codecs`).
DENSE_STORAGE = ("float32", "float16", "uint8")
#: How ``colbert`` may search an index by default (``IndexOptions.colbert_search``).
COLBERT_SEARCH = ("candidates", "scan")


def colbert_search_of(recorded: str | None, has_fde: bool) -> str:
    """How ``colbert`` searches an index: as recorded, else by candidates with an FDE, else a scan.

    >>> colbert_search_of(None, True), colbert_search_of(None, False), colbert_search_of("scan", True)
    ('candidates', 'scan', 'scan')
    """
    return recorded or ("candidates" if has_fde else "scan")


@dataclass(frozen=True)
class Manifest:
    """What an index holds and which encoder made it."""

    encoder: dict[str, Any]
    parts: tuple[str, ...]
    colbert_storage: str = "float16"
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.encoder["dim"])

    @property
    def colbert_dim(self) -> int | None:
        value = self.encoder.get("colbert_dim")
        return None if value is None else int(value)

    @property
    def colbert_stored_dim(self) -> int | None:
        """Width of the stored multi-vectors: uint8 codes carry compensation bytes."""
        return next((spec.stored_dim for spec in self.vectors if spec.name == "colbert"), None)

    @property
    def vectors(self) -> tuple[VectorSpec, ...]:
        """The named vectors the index stores (:func:`~m3search.index.vectors.vector_specs`)."""
        from .vectors import vector_specs

        return vector_specs(self)

    @property
    def dense_storage(self) -> str:
        """The dense vector's datatype (``float32`` unless the index was built with another)."""
        return str(self.extra.get("dense_storage", "float32"))

    @property
    def uint8_codec(self) -> int:
        """The layout of the index's uint8 rows and vectors (:mod:`~m3search.index.codecs`): 1 unless recorded."""
        return int(self.extra.get("uint8_codec", 1))

    @property
    def compression(self) -> dict[str, Any]:
        """How documents are reduced before storage: ``colbert_pool_factor``, ``sparse_top_k``,
        ``sparse_min_weight`` (only those set; see :mod:`~m3search.index.pooling`)."""
        return dict(self.extra.get("compression") or {})

    @property
    def fde(self) -> dict[str, Any] | None:
        """The multi-vector first stage's settings (``k_sim``, ``dim_proj``, ``reps``, ``seed``,
        ``storage``; see :mod:`~m3search.index.fde`), or ``None`` when the index has none."""
        value = self.extra.get("fde")
        return dict(value) if value else None

    @property
    def hnsw(self) -> tuple[int, int] | None:
        """The HNSW graphs' ``(m, ef_construct)``, or ``None``: the engine's defaults."""
        value = self.extra.get("hnsw")
        return (int(value["m"]), int(value["ef_construct"])) if value else None

    @property
    def colbert_search(self) -> str:
        """How ``colbert`` searches this index by default: ``"candidates"`` (of every first stage
        it holds, rescored exactly) or ``"scan"``; unrecorded: candidates with an FDE, else a scan."""
        value = colbert_search_of(self.extra.get("colbert_search"), bool(self.fde))
        if value not in COLBERT_SEARCH:
            raise IndexFormatError(f"this index's manifest records colbert_search={value!r}, which this m3search "
                                     "does not know (candidates, scan): upgrade m3search")
        return str(value)

    @property
    def quantization(self) -> dict[str, Any]:
        """The engine's quantisation (``vectors``, ``oversampling``, ``rescore``), ``{}`` without."""
        return dict(self.extra.get("quantization") or {})

    @property
    def unfinished_copy(self) -> str | None:
        """Where an index being copied comes from, until the copy is whole (``None`` after)."""
        value = self.extra.get("copying_from")
        return None if value is None else str(value)

    @property
    def dense_windows(self) -> bool:
        """Whether ``dense`` holds every window's vector of a document (scored by the best
        window, MaxSim over one query row) rather than one vector: the encoder's
        ``window_dense="best"``."""
        return dict(self.encoder.get("long") or {}).get("window_dense") == "best"

    @property
    def vocab_size(self) -> int | None:
        value = self.encoder.get("vocab_size")
        return None if value is None else int(value)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["parts"] = list(self.parts)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> Manifest:
        version = data.get("format_version")
        if not isinstance(version, int):
            raise IndexFormatError(f"{source}: no format_version; not an m3search index manifest")
        if version < FORMAT_VERSION:
            raise IndexFormatError(
                f"{source}: index format version {version} was written by an older m3search, whose encoder "
                "identity depended on the model's path; rebuild the index with this version"
            )
        if version > FORMAT_VERSION:
            raise IndexFormatError(
                f"{source}: index format version {version} is newer than this m3search reads ({FORMAT_VERSION}); upgrade m3search"
            )
        encoder = data.get("encoder")
        missing = [k for k in ("name", "dim", "parts") if not isinstance(encoder, dict) or k not in encoder]
        if missing:
            raise IndexFormatError(f"{source}: damaged manifest (its encoder lacks {', '.join(missing)})")
        codec = dict(data.get("extra") or {}).get("uint8_codec", 1)
        if codec not in CODECS:
            raise IndexFormatError(f"{source}: uint8 layout {codec!r} is not one this m3search reads ({list(CODECS)}); "
                                   "upgrade m3search")
        try:
            return cls(
                encoder=dict(data["encoder"]), parts=tuple(data["parts"]),
                colbert_storage=data.get("colbert_storage", "float16"), format_version=version,
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError) as exc:
            raise IndexFormatError(f"{source}: damaged manifest ({exc})") from exc

    def check_encoder(self, identity: dict[str, Any]) -> None:
        """Raise :class:`IndexMismatchError` unless ``identity`` is the encoder that built the index."""
        differing = differences(self.encoder, identity)
        if differing:
            detail = "; ".join(f"{k}: index {a!r}, encoder {b!r}" for k, (a, b) in differing.items())
            raise IndexMismatchError(
                f"this index was built with encoder {self.encoder.get('name')!r}, not {identity.get('name')!r} ({detail})"
            )
        missing = [p for p in self.parts if p not in identity.get("parts", ())]
        if missing:
            raise IndexMismatchError(f"the index holds {missing} but encoder {identity.get('name')!r} cannot produce it")


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` atomically (temporary file, fsync, rename)."""
    atomic_write_text(directory / MANIFEST_FILE, json.dumps(manifest.to_json(), indent=2))


def read_manifest(directory: Path) -> Manifest:
    target = directory / MANIFEST_FILE
    if not target.is_file():
        raise IndexFormatError(f"{directory} is not an m3search index (no {MANIFEST_FILE})")
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IndexFormatError(f"{target}: damaged manifest ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise IndexFormatError(f"{target}: damaged manifest (not UTF-8 text)") from exc
    if not isinstance(data, dict):
        raise IndexFormatError(f"{target}: damaged manifest (a JSON {type(data).__name__}, not an object)")
    return Manifest.from_json(data, str(target))
