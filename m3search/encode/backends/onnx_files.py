"""Where exported graphs are kept and what their files are called (no torch, no onnxruntime).

The export (:mod:`.onnx_export`, torch) writes these files and the runtime backends
(:mod:`.onnx`) read them. A graph is exported once per checkpoint and kept in
``$M3SEARCH_CACHE/onnx/``, keyed by the checkpoint's path and the sizes and modification times
of its weight files: replacing a head file exports again.

>>> GRAPH_FILE, META_FILE
('model.onnx', 'm3search-onnx.json')
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ...errors import ConfigurationError
from ..checkpoints.cache import cache_dir

#: The backends that run an exported graph: ONNX Runtime float32 and int8, OpenVINO float32 and bf16.
ONNX_KINDS = ("onnx", "onnx-int8", "openvino", "openvino-bf16")
GRAPH_FILE = "model.onnx"
#: The export's description: architecture, heads, dimensions and weights fingerprint of the model.
META_FILE = "m3search-onnx.json"
#: Bumped when the exported graph changes, so that older cached graphs are not reused.
EXPORT_VERSION = 2
#: Files whose change makes an exported graph stale.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".json")


def graph_dir(checkpoint: Path, kind: str = "onnx", *, quantize_heads: bool = False) -> Path:
    """Where the graph of ``checkpoint`` for ``kind`` is cached.

    The key hashes the checkpoint's absolute path and the name, size and modification time of
    each weight, head and config file, so replacing a head file exports again.

    >>> graph_dir(Path("tests/fixtures/tiny-m3"), "onnx-int8", quantize_heads=True).name
    'onnx-int8-heads'
    """
    if kind not in ONNX_KINDS:
        raise ConfigurationError(f"unknown ONNX backend {kind!r}; choose from {list(ONNX_KINDS)}")
    if kind.startswith("openvino"):
        kind = "onnx"  # OpenVINO reads the float32 ONNX graph
    digest = hashlib.sha256(f"{EXPORT_VERSION}:{checkpoint.resolve()}".encode())
    for file in sorted(checkpoint.iterdir()):
        if file.is_file() and file.suffix in _WEIGHT_SUFFIXES:
            stat = file.stat()
            digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    variant = kind + ("-heads" if kind == "onnx-int8" and quantize_heads else "")
    return cache_dir() / "onnx" / f"{checkpoint.resolve().name}-{digest.hexdigest()[:16]}" / variant
