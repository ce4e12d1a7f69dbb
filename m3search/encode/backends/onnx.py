"""The ONNX Runtime backend: the exported network with both heads as one graph (no torch).

``Encoder.load(name, backend="onnx")`` runs the model through ONNX Runtime; ``"onnx-int8"``
runs an int8 copy (SmoothQuant-calibrated, :mod:`.onnx_smoothquant`, then int8 weights for every
linear layer with activations quantised on the fly; ``calibration="none"`` skips the calibration;
the two head projections stay float32 unless ``quantize_heads=True``). The graph's outputs are the same raw per-token
arrays as the torch backend's (:class:`~.base.ForwardOutput`): last hidden states,
``relu(sparse_linear(H))`` (times the sparse prior) per token and un-normalised multi-vector rows, so that pooling,
special-token filtering, the max-merge per token id, normalisation and ragged splitting stay in
the one torch-free pipeline.

The export (:mod:`.onnx_export`) needs torch and is done once per checkpoint: the graph is kept
in ``$M3SEARCH_CACHE/onnx/`` (:mod:`.onnx_files`). Running an exported graph needs
``onnxruntime`` and ``numpy`` only.

The identity of an ONNX float32 model is the torch model's (same weights fingerprint: outputs
agree within 1e-4), so an index built with one is searched with the other; an int8 model has
its own fingerprint (``...+int8sq``, calibrated; ``...+int8pc`` uncalibrated), because its outputs differ.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CheckpointError, ConfigurationError
from .base import ForwardOutput, TokenBatch
from .onnx_files import GRAPH_FILE, META_FILE, PLAIN, damaged_files, graph_dir, saved_graph

log = logging.getLogger(__name__)

#: Output names of the graph for each part the pipeline asks for.
OUTPUTS = {"dense": "hidden", "sparse": "sparse", "colbert": "colbert"}
INSTALL_HINT = "the ONNX backend needs onnxruntime: pip install 'm3search[onnx]'"
OPENVINO_HINT = "the openvino backend needs OpenVINO: pip install 'm3search[openvino]'"


class OnnxBackend:
    """Runs an exported M3 graph with ONNX Runtime for the encoder pipeline.

    ``directory`` holds ``model.onnx`` and ``m3search-onnx.json`` (what :func:`.onnx_export.export`
    writes): the architecture, heads, dimensions and weights fingerprint of the model.
    """

    def __init__(self, directory: Path, *, device: str | None = None, threads: int | None = None) -> None:
        meta_path = directory / META_FILE
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"cannot read the ONNX export description {meta_path}: {exc}") from exc
        self.kind = str(self.meta["kind"])
        self.directory = directory
        self._heads: tuple[str, ...] = tuple(self.meta["heads"])
        self._open(device, threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0))

    def _open(self, device: str | None, threads: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ConfigurationError(INSTALL_HINT) from exc
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device and device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ConfigurationError("device='cuda' with the ONNX backend needs onnxruntime-gpu")
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.directory / GRAPH_FILE), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for bad graphs
            raise CheckpointError(f"cannot load the ONNX graph in {self.directory}: {exc}") from exc

    # ------------------------------------------------------------------ description
    @property
    def hidden_size(self) -> int:
        return int(self.meta["hidden_size"])

    @property
    def colbert_dim(self) -> int | None:
        return None if "colbert" not in self._heads else int(self.meta["colbert_dim"])

    @property
    def heads(self) -> tuple[str, ...]:
        return self._heads

    @property
    def max_positions(self) -> int:
        return int(self.meta["architecture"]["max_positions"])

    def architecture(self) -> dict[str, Any]:
        return dict(self.meta["architecture"])

    def weights_fingerprint(self) -> str:
        return str(self.meta["weights"])

    def set_heads(self, colbert: Any, sparse: Any) -> None:
        """Only removal is possible (``None, None``): the heads are part of the exported graph."""
        if colbert is not None or sparse is not None:
            raise ConfigurationError(f"the {self.kind} backend cannot attach heads: export a checkpoint that has them")
        self._heads = ()

    # ------------------------------------------------------------------ running
    def forward(self, batch: TokenBatch, parts: tuple[str, ...]) -> ForwardOutput:
        missing = [p for p in parts if p != "dense" and p not in self._heads]
        if missing:
            raise ConfigurationError(f"this network has no {' or '.join(missing)} head")
        names = [OUTPUTS[p] for p in parts]
        feeds = {"input_ids": batch.input_ids.astype(np.int64), "attention_mask": batch.attention_mask.astype(np.int64)}
        arrays = self._run(names, feeds)
        return ForwardOutput(**{name: np.asarray(a, dtype=np.float32) for name, a in zip(names, arrays)})

    def _run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self.session.run(names, feeds))

    def save(self, directory: Path) -> None:
        raise ConfigurationError(f"the {self.kind} backend runs an exported graph and cannot save a checkpoint; "
                                 "save from the torch backend")


class OpenVinoBackend(OnnxBackend):
    """Runs the float32 ONNX graph with OpenVINO's CPU plugin.

    ``openvino`` computes in float32 (outputs equal torch's within 1e-4); ``openvino-bf16``
    asks for bfloat16 inference, which CPUs with AMX or AVX-512 BF16 run natively (elsewhere
    OpenVINO emulates it slowly). bf16 rounds activations, not the stored weights, so the
    identity stays the float32 model's (torch's ``dtype=`` casts the weights: its own identity).
    """

    def _open(self, device: str | None, threads: int) -> None:
        try:
            import openvino
        except ImportError as exc:
            raise ConfigurationError(OPENVINO_HINT) from exc
        if device and device != "cpu":
            raise ConfigurationError(f"the OpenVINO backend runs on the CPU here, not on {device!r}")
        self.kind = "openvino-bf16" if self._bf16 else "openvino"
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "bf16" if self._bf16 else "f32"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            self.compiled = openvino.Core().compile_model(str(self.directory / GRAPH_FILE), "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            raise CheckpointError(f"OpenVINO cannot load the graph in {self.directory}: {exc}") from exc

    _bf16 = False

    def _run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        results = self.compiled.create_infer_request().infer(feeds)  # one request per call: thread-safe
        return [np.array(results[self.compiled.output(name)]) for name in names]


class OpenVinoBf16Backend(OpenVinoBackend):
    _bf16 = True


def load(checkpoint: Path, kind: str, *, device: str | None = None, quantize_heads: bool = False,
         calibration: str = "smoothquant") -> OnnxBackend:
    """The backend ``kind`` for ``checkpoint``: the export saved beside it (``Encoder.save(...,
    backends=...)``), else the cached graph, exported first when missing (torch). ``calibration``
    (``onnx-int8``): ``"smoothquant"`` or ``"none"`` (:mod:`.onnx_smoothquant`)."""
    target = (saved_graph(checkpoint, kind, quantize_heads=quantize_heads, calibration=calibration)
              or graph_dir(checkpoint, kind, quantize_heads=quantize_heads, calibration=calibration))
    damaged = damaged_files(target) if target.exists() else []
    if damaged:  # a cached graph whose bytes changed gives silently different embeddings: export again
        log.warning("the cached ONNX export %s is damaged (%s): exporting it again", target, ", ".join(damaged))
        shutil.rmtree(target)
    if not (target / META_FILE).is_file():
        try:
            import onnxruntime  # noqa: F401 - fail with the install hint before a long export
        except ImportError as exc:
            raise ConfigurationError(INSTALL_HINT) from exc
        from .onnx_export import export_cached

        export_cached(checkpoint, target, PLAIN if kind.startswith("openvino") else kind, quantize_heads=quantize_heads,
                      calibration=calibration)
    if kind == "openvino":
        return OpenVinoBackend(target, device=device)
    if kind == "openvino-bf16":
        return OpenVinoBf16Backend(target, device=device)
    return OnnxBackend(target, device=device)
