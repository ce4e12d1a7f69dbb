"""Exported graphs saved beside a model (``Encoder.save(dir, backends=["onnx-int8"])``): copied
from the cache into ``dir/onnx/<variant>/`` with their checksums and the content key of the
files they were made from, so that loading finds them and never exports again."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from ...errors import ConfigurationError
from .onnx_files import SAVED_DIR, SOURCE_FILE, content_key, graph_dir, saved_graph, variant_name, write_checksums

#: The backends whose graphs a saved model can carry.
SAVABLE = ("onnx", "onnx-int8")


def check_savable(backends: Sequence[str], calibration: str) -> None:
    """A :class:`ConfigurationError` naming a backend a saved model cannot carry, or an unknown
    int8 calibration (checked before anything is written)."""
    unknown = [b for b in backends if b not in SAVABLE]
    if unknown:
        raise ConfigurationError(f"cannot save graphs for {unknown}; a saved model carries {list(SAVABLE)}")
    from .onnx_smoothquant import check_calibration

    check_calibration(calibration)


def save_graphs(checkpoint: Path, backends: Sequence[str], calibration: str = "smoothquant") -> None:
    """Export (or reuse from the cache) each backend's graph of ``checkpoint`` and copy it beside
    it; ``calibration`` picks the int8 graph (``"smoothquant"`` or ``"none"``, both may be saved)."""
    check_savable(backends, calibration)
    from .onnx import load

    key = content_key(checkpoint)
    for kind in dict.fromkeys(backends):
        graph_calibration = calibration if kind == "onnx-int8" else "smoothquant"  # (the float32 graph has none)
        if saved_graph(checkpoint, kind, calibration=graph_calibration) is not None:
            continue  # already saved from these very files (and perhaps in no cache on this machine)
        load(checkpoint, kind, calibration=graph_calibration)  # the cached graph, exported when missing
        target = checkpoint / SAVED_DIR / variant_name(kind, calibration=graph_calibration)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(graph_dir(checkpoint, kind, calibration=graph_calibration), target)
        (target / SOURCE_FILE).write_text(key)
        write_checksums(target)
