"""Where exported graphs are kept and what their files are called (no torch, no onnxruntime).

The export (:mod:`.onnx_export`, torch) writes these files and the runtime backends
(:mod:`.onnx`) read them. A graph is exported once per checkpoint and kept in
``$M3SEARCH_CACHE/onnx/``, keyed by the content of the checkpoint's weight and config files
(each file's size and a hash of samples spread over it): a copied or moved checkpoint finds its
graph, and replacing a head file exports again.

>>> GRAPH_FILE, META_FILE
('model.onnx', 'm3search-onnx.json')
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...errors import CheckpointError, ConfigurationError
from ..checkpoints.cache import cache_dir

#: The backends that run an exported graph: ONNX Runtime float32 and int8, OpenVINO float32 and bf16.
ONNX_KINDS = ("onnx", "onnx-int8", "openvino", "openvino-bf16")
GRAPH_FILE = "model.onnx"
#: The export's description: architecture, heads, dimensions and weights fingerprint of the model.
META_FILE = "m3search-onnx.json"
#: Bumped when the exported graph changes, so that older cached graphs are not reused.
EXPORT_VERSION = 6
#: The graph without contrib operators (what OpenVINO reads).
PLAIN = "onnx-plain"
#: Each exported file's size and a hash of samples spread over it, checked when the graph loads.
CHECKSUM_FILE = "checksums.json"
_SAMPLES, _SAMPLE_BYTES = 64, 1 << 16
#: Files whose change makes an exported graph stale.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".json")


def graph_dir(checkpoint: Path, kind: str = "onnx", *, quantize_heads: bool = False,
              calibration: str = "smoothquant") -> Path:
    """Where the graph of ``checkpoint`` for ``kind`` is cached: keyed by the content of its
    weight, head and config files (:func:`file_fingerprint`), not by where they are.

    >>> graph_dir(Path("tests/fixtures/tiny-m3"), "onnx-int8", quantize_heads=True).name
    'onnx-int8-sq-heads'
    """
    return cache_dir() / "onnx" / content_key(checkpoint) / variant_name(kind, quantize_heads, calibration)


def variant_name(kind: str, quantize_heads: bool = False, calibration: str = "smoothquant") -> str:
    """The folder of one kind of graph: ``onnx`` (fused for ONNX Runtime, :mod:`.onnx_fusion`),
    ``onnx-int8-sq`` (quantised from it after SmoothQuant, :mod:`.onnx_smoothquant`) or
    ``onnx-int8`` (``calibration="none"``: dynamic int8 alone, the folder's name before
    calibration existed, so cached and saved graphs stay valid), each with ``-heads`` when the
    heads are quantised too, or ``onnx-plain`` (the float32 graph without ONNX Runtime's contrib
    operators, which OpenVINO reads).

    >>> variant_name("openvino-bf16"), variant_name("onnx-int8", True), variant_name("onnx-int8", False, "none")
    ('onnx-plain', 'onnx-int8-sq-heads', 'onnx-int8')
    """
    if kind not in ONNX_KINDS and kind != PLAIN:
        raise ConfigurationError(f"unknown ONNX backend {kind!r}; choose from {list(ONNX_KINDS)}")
    kind = PLAIN if kind.startswith("openvino") else kind
    if kind != "onnx-int8":
        return kind
    return kind + ("" if calibration == "none" else "-sq") + ("-heads" if quantize_heads else "")


def content_key(checkpoint: Path) -> str:
    """A hash of the checkpoint's weight, head and config files (their :func:`file_fingerprint`)."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}".encode())
    for file in sorted(checkpoint.iterdir()):
        if file.is_file() and file.suffix in _WEIGHT_SUFFIXES:
            digest.update(f"{file.name}:{file_fingerprint(file)}".encode())
    return digest.hexdigest()[:24]


#: A saved model's own exports (``Encoder.save(dir, backends=[...])``): ``dir/onnx/<variant>/``.
SAVED_DIR = "onnx"
#: The content key of the checkpoint a saved export was made from.
SOURCE_FILE = "source-key"


def saved_graph(checkpoint: Path, kind: str, *, quantize_heads: bool = False,
                calibration: str = "smoothquant") -> Path | None:
    """The export saved beside ``checkpoint`` for ``kind``, when there is one made from these very
    files; a damaged one is a :class:`CheckpointError` (it is read-only: never replaced here)."""
    target = checkpoint / SAVED_DIR / variant_name(kind, quantize_heads, calibration)
    if not (target / META_FILE).is_file():
        return None
    damaged = damaged_files(target)
    if damaged:
        raise CheckpointError(f"the ONNX export saved in {target} is damaged ({', '.join(damaged)}): save the model "
                              "again with its backends, or remove that folder")
    source = target / SOURCE_FILE
    if not source.is_file() or source.read_text().strip() != content_key(checkpoint):
        return None  # made from other weights: the cache (or a new export) serves instead
    return target


def file_fingerprint(path: Path) -> str:
    """The file's size and a SHA-256 of 64 samples of 64 KB spread over it (a whole small file):
    what changes when bytes are flipped or the file is cut, read in milliseconds even for a
    graph of gigabytes.

    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "x"; _ = f.write_bytes(b"abc")
    >>> file_fingerprint(f)[:2]
    '3:'
    """
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if size <= _SAMPLES * _SAMPLE_BYTES:
            digest.update(handle.read())
        else:
            for i in range(_SAMPLES):
                handle.seek(i * (size - _SAMPLE_BYTES) // (_SAMPLES - 1))
                digest.update(handle.read(_SAMPLE_BYTES))
    return f"{size}:{digest.hexdigest()}"


def write_checksums(directory: Path) -> None:
    """Record the fingerprint of every file of an export (before it is published)."""
    sums = {f.name: file_fingerprint(f) for f in sorted(directory.iterdir()) if f.is_file() and f.name != CHECKSUM_FILE}
    (directory / CHECKSUM_FILE).write_text(json.dumps(sums, indent=1))


def damaged_files(directory: Path) -> list[str]:
    """The files of a cached export that are missing or differ from what the export recorded
    (all of them when the record itself is missing or unreadable)."""
    try:
        sums = json.loads((directory / CHECKSUM_FILE).read_text())
        if not isinstance(sums, dict) or not sums:
            raise ValueError("empty")
    except (OSError, ValueError):
        return [CHECKSUM_FILE]
    return [name for name, expected in sums.items()
            if not (directory / name).is_file() or file_fingerprint(directory / name) != expected]
