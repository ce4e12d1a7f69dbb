"""The ONNX Runtime backends of a cross-encoder, ``onnx`` (float32) and ``onnx-int8`` (int8
weights): the graph is exported once per checkpoint (needs torch) and cached with checksums;
scoring needs onnxruntime only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..encode.backends.cpu_int8 import saturating_int8
from ..encode.backends.onnx import INSTALL_HINT
from ..encode.backends.onnx_files import GRAPH_FILE, META_FILE, damaged_files, graph_dir
from ..errors import ConfigurationError

#: The folder suffix of a cross-encoder's int8 graph with 7-bit weights.
REDUCED_RANGE = "-rr"


def rerank_graph_dir(checkpoint: Path, kind: str) -> Path:
    """Where the graph of a cross-encoder is cached: dynamic int8 (no calibration), with 7-bit
    weights in a folder of its own (``onnx-int8-rr``) on a CPU whose int8 products saturate
    (:mod:`m3search.encode.backends.cpu_int8`)."""
    target = graph_dir(checkpoint, kind, calibration="none")
    return target.with_name(target.name + REDUCED_RANGE) if kind == "onnx-int8" and saturating_int8() else target


class OnnxScorer:
    """One logit per padded pair from the cached graph of ``checkpoint``."""

    def __init__(self, checkpoint: Path, kind: str, *, threads: int | None = None, graph: Path | None = None) -> None:
        """``graph``: read that graph directory instead of the cached one (a benchmark's own)."""
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ConfigurationError(INSTALL_HINT) from exc
        target = graph or rerank_graph_dir(checkpoint, kind)
        if graph is None and target.exists() and damaged_files(target):  # cached bytes changed: export again
            shutil.rmtree(target)
        if not (target / META_FILE).is_file():
            from .graph_export import cached_graph

            target = cached_graph(checkpoint, kind)
        self.meta = json.loads((target / META_FILE).read_text())
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(target / GRAPH_FILE), options, providers=["CPUExecutionProvider"])
        self.uses_type_ids = "token_type_ids" in self.meta["inputs"]

    def logits(self, ids: np.ndarray, mask: np.ndarray, type_ids: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask}
        if self.uses_type_ids:
            feed["token_type_ids"] = type_ids
        return np.asarray(self.session.run(["logits"], feed)[0], dtype=np.float32).reshape(-1)

    def weights_fingerprint(self) -> str:
        int8 = "+int8" + ("rr" if self.meta.get("reduce_range") else "")
        return str(self.meta["weights"])[:16] + (int8 if self.meta["kind"] == "onnx-int8" else "")
