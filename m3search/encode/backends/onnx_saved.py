"""Exported graphs saved beside a model (``Encoder.save(dir, backends=["onnx-int8"])``): copied
from the cache into ``dir/onnx/<variant>/`` with their checksums and the content key of the
files they were made from, so that loading finds them and never exports again."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from ...errors import ConfigurationError
from .onnx_files import SAVED_DIR, SOURCE_FILE, content_key, graph_dir, variant_name, write_checksums

#: The backends whose graphs a saved model can carry.
SAVABLE = ("onnx", "onnx-int8")


def save_graphs(checkpoint: Path, backends: Sequence[str]) -> None:
    """Export (or reuse from the cache) each backend's graph of ``checkpoint`` and copy it beside it."""
    unknown = [b for b in backends if b not in SAVABLE]
    if unknown:
        raise ConfigurationError(f"cannot save graphs for {unknown}; a saved model carries {list(SAVABLE)}")
    from .onnx import load

    key = content_key(checkpoint)
    for kind in dict.fromkeys(backends):
        load(checkpoint, kind)  # the cached graph, exported when missing
        target = checkpoint / SAVED_DIR / variant_name(kind)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(graph_dir(checkpoint, kind), target)
        (target / SOURCE_FILE).write_text(key)
        write_checksums(target)
