"""Export a checkpoint to one ONNX graph with both heads, and quantise it to int8 (needs torch).

The graph takes ``input_ids`` and ``attention_mask`` (dynamic batch and sequence axes; right
padding: the fused attention of :mod:`.onnx_fusion` reads the mask as lengths) and
returns ``hidden`` (last hidden states), and when the checkpoint has the heads ``sparse``
(``relu(sparse_linear(hidden))`` per token, times the sparse prior of each token id when the
checkpoint has one) and ``colbert`` (un-normalised rows), exactly the
raw outputs of :meth:`.torch.M3Network.forward`. torch's dynamo exporter is used: the
TorchScript one bakes transformers' mask arithmetic in as constants and gives wrong outputs for
padded batches of other shapes. Every float32 export is checked against torch on a padded batch
and on a single text (the two attention branches of :mod:`.onnx_attention`) of shapes other than
the one traced; a difference above 1e-3 is refused.

int8 is SmoothQuant (:mod:`.onnx_smoothquant`: the activations' outlier channels moved into the
weights, calibrated on 124 sentences in 62 languages; ``calibration="none"`` skips it) then
``onnxruntime.quantization.quantize_dynamic`` (int8 weights with one scale per output
channel, activations quantised on the fly) over the float32 graph; per-channel scales keep the
offline model's dense vectors at cosine 0.9965 to float32 on average (0.986 with one scale per
tensor; 120 XQuAD paragraphs and questions); the two head projections (the MatMuls reading ``hidden``) are
excluded unless ``quantize_heads``: they are tiny, and the lexical weights are the most
sensitive output. A sparse prior's lookup (a ``Gather``/``GatherND`` from a one-dimensional table) stays float32.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import CheckpointError
from . import onnx_attention, onnx_fusion, onnx_smoothquant
from .onnx_files import GRAPH_FILE, META_FILE, graph_dir, write_checksums
from .torch import M3Network, TorchBackend

log = logging.getLogger(__name__)
#: Largest difference from torch accepted when an export is checked.
EXPORT_TOLERANCE = 1e-3
#: Graphs above this size keep their weights in an external data file (protobuf's 2 GB limit).
_EXTERNAL_DATA_BYTES = 1_500_000_000


class _Outputs(torch.nn.Module):
    """The network with a fixed tuple of outputs, as an exporter wants."""

    def __init__(self, network: M3Network, parts: tuple[str, ...]) -> None:
        super().__init__()
        self.network = network
        self.parts = parts

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.network(input_ids, attention_mask, parts=self.parts)
        return tuple(out[name] for name in self.names)

    @property
    def names(self) -> list[str]:
        return [{"dense": "hidden", "sparse": "sparse", "colbert": "colbert"}[p] for p in self.parts]


def export_cached(checkpoint: Path, target: Path, kind: str, *, quantize_heads: bool = False,
                  calibration: str = "smoothquant") -> Path:
    """Write the graph of ``checkpoint`` for ``kind`` into ``target`` (atomically: a concurrent
    export of the same checkpoint ends with one complete directory)."""
    if kind == "onnx-int8":
        source = graph_dir(checkpoint, "onnx")
        if not (source / META_FILE).is_file():
            export_cached(checkpoint, source, "onnx")
        ids = None
        if onnx_smoothquant.check_calibration(calibration) != "none":
            from ..tokenizer import TextTokenizer

            limit = int(json.loads((source / META_FILE).read_text())["architecture"]["max_positions"])
            try:
                tokenizer = TextTokenizer.load(checkpoint)
            except CheckpointError as exc:
                raise CheckpointError(f"{exc}; the int8 calibration tokenises its texts (calibration='none' "
                                      "quantises without them)") from exc
            ids = tokenizer.encode(onnx_smoothquant.calibration_texts(), max_length=min(onnx_smoothquant.MAX_TOKENS, limit))
        return _publish(target, lambda tmp: quantize(source, tmp, quantize_heads=quantize_heads, calibration_ids=ids))
    backend = TorchBackend.load(checkpoint, device="cpu")
    return _publish(target, lambda tmp: export(backend, tmp, fused=kind == "onnx"))


def export(backend: TorchBackend, directory: Path, *, fused: bool = True) -> Path:
    """Export ``backend``'s network (float32, CPU) into ``directory``; return it. ``fused``: with
    ONNX Runtime's attention, skip-layer-norm and GELU operators where the backbone's family
    allows (:mod:`.onnx_fusion`), else the plain graph."""
    log.info("exporting %s to ONNX (once; cached)", directory)
    network = backend.network.float().cpu().eval()
    # eager attention exports as MatMul/Softmax with an additive mask; SDPA's decomposition adds
    # Where/IsNaN guards that cost ONNX Runtime ~13% on CPU (measured on e5-small)
    attention = getattr(network.backbone_config, "_attn_implementation", None)
    setter = getattr(network.backbone, "set_attn_implementation", None)
    if setter is not None:
        try:
            setter("eager")
        except (ValueError, ImportError):  # a model without an eager path keeps its own
            setter = None
    parts = ("dense",) + tuple(p for p in ("sparse", "colbert") if p in backend.heads)
    module = _Outputs(network, parts)
    fused = fused and onnx_fusion.fusable(network)
    traced = onnx_fusion.FusableOutputs(network, parts, module.names) if fused else module
    ids, mask = _example(network, batch=2, length=16, seed=0)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    large = sum(p.numel() * p.element_size() for p in network.parameters()) > _EXTERNAL_DATA_BYTES
    raw = directory / "unfused" if fused else directory
    raw.mkdir(parents=True, exist_ok=True)
    # the exporter prints its steps on stdout, where `m3search search --json` writes its answer
    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):
        torch.onnx.export(
            traced, (ids, mask), str(raw / GRAPH_FILE), dynamo=True, verbose=False,
            input_names=["input_ids", "attention_mask"], output_names=module.names,
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
            external_data=large,
        )
    if setter is not None and attention:
        setter(attention)
    fused_ops: dict[str, int] = {}
    if fused:
        onnx_fusion.split_mask_unsqueeze(raw / GRAPH_FILE)
        cfg = network.backbone_config
        fused_ops = onnx_fusion.fuse(raw / GRAPH_FILE, directory / GRAPH_FILE, num_heads=int(cfg.num_attention_heads),
                                     hidden_size=int(cfg.hidden_size), external_data=large)
        shutil.rmtree(raw)
    meta = {
        "kind": "onnx",
        "heads": [p for p in parts if p != "dense"],
        "hidden_size": backend.hidden_size,
        "colbert_dim": backend.colbert_dim,
        "architecture": backend.architecture(),
        "weights": backend.weights_fingerprint(),
        "torch": torch.__version__,
        "fused": fused_ops,  # ONNX Runtime's contrib operators in the graph (none: the plain graph)
    }
    (directory / META_FILE).write_text(json.dumps(meta, indent=2))
    _check(module, directory)
    return directory


def quantize(source: Path, directory: Path, *, quantize_heads: bool = False,
             calibration_ids: Sequence[Sequence[int]] | None = None, reduce_range: bool = False) -> Path:
    """int8 quantisation of the float32 graph in ``source`` into ``directory``: SmoothQuant
    calibrated on ``calibration_ids`` (token ids of the calibration texts, :mod:`.onnx_smoothquant`)
    when given, then ``quantize_dynamic`` (with 7-bit weights when ``reduce_range``, :mod:`.cpu_int8`)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    meta = json.loads((source / META_FILE).read_text())
    data_files = list(source.glob("*.data"))
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fused-", dir=directory) as tmp:
        # the quantiser turns the fused Attention into QAttention: give it the graph without the
        # flash branches, beside a copy of the source's weights file (read by the quantiser, not
        # held in this process as well)
        fused = onnx.load(str(source / GRAPH_FILE), load_external_data=False)
        onnx_attention.restore_fused(fused)
        for data in data_files:  # onnx refuses external data behind a symbolic or a hard link
            shutil.copyfile(data, Path(tmp) / data.name)
        calibration = None
        if calibration_ids is not None:
            fused = _smooth(fused, Path(tmp), calibration_ids, external=bool(data_files))
            calibration = onnx_smoothquant.recorded(fused)
        else:
            onnx.save(fused, str(Path(tmp) / GRAPH_FILE))
        graph = fused.graph
        heads = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and "hidden" in n.input]
        vectors = {i.name for i in graph.initializer if len(i.dims) == 1}
        priors = [n.name for n in graph.node if n.op_type in ("Gather", "GatherND") and n.input[0] in vectors]
        del fused, graph
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs advice about static pre-processing on the root logger
        try:
            quantize_dynamic(
                Path(tmp) / GRAPH_FILE, directory / GRAPH_FILE, weight_type=QuantType.QInt8,
                nodes_to_exclude=priors + ([] if quantize_heads else heads), per_channel=True,
                reduce_range=reduce_range, use_external_data_format=bool(data_files),
            )
        finally:
            root.setLevel(level)
    onnx_attention.rewrite_file(directory / GRAPH_FILE, onnx_attention.unmask_when_unpadded)
    # per-channel scales give other outputs than the per-tensor graphs of export version <= 4: an
    # index those built is refused by name, not searched with slightly different query vectors.
    # The flash branch of version 6 (one text alone) changes int8 outputs far less than a text's
    # batch-mates already do (dynamic scales are per batch): 192 XQuAD questions encoded alone,
    # version 5 against 6, dense cosine 0.9998 on average; alone against in batches of 64, 0.9961.
    # SmoothQuant changes them more: a calibrated graph is "+int8sq", in a folder of its own.
    suffix = ("+int8sq" if calibration else "+int8pc") + ("-heads" if quantize_heads else "")
    meta.update(kind="onnx-int8", weights=meta["weights"] + suffix, quantized_heads=quantize_heads,
                calibration=calibration, **({"reduce_range": True} if reduce_range else {}))
    (directory / META_FILE).write_text(json.dumps(meta, indent=2))
    return directory


def _smooth(fused: Any, tmp: Path, token_ids: Sequence[Sequence[int]], *, external: bool) -> Any:
    """SmoothQuant ``fused`` (graph only; weights in ``tmp`` when ``external``) and save it to
    ``tmp`` with its weights; return the smoothed graph (weights loaded)."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    ranges = onnx_smoothquant.activation_ranges(fused, tmp, token_ids)
    if external:
        load_external_data_for_model(fused, str(tmp))
        for data in tmp.glob("*.data"):  # onnx appends to an existing external data file
            data.unlink()
    count = onnx_smoothquant.smooth(fused, ranges)
    if not count:  # a graph of another shape: say so rather than label a dynamic graph calibrated
        raise CheckpointError("SmoothQuant found no attention or feed-forward layer to calibrate in this graph: "
                              "load it with calibration='none'")
    onnx_smoothquant.record(fused, {**onnx_smoothquant.describe(token_ids), "layers": count})
    onnx.save(fused, str(tmp / GRAPH_FILE), save_as_external_data=external, all_tensors_to_one_file=True,
              location=GRAPH_FILE + ".data")
    return fused


def _example(network: M3Network, *, batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids with CLS/SEP ends; the second row padded to half the length."""
    cfg = network.backbone_config
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, int(cfg.vocab_size), (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    pad = int(getattr(cfg, "pad_token_id", 0) or 0)
    ids[:, 0] = int(getattr(cfg, "bos_token_id", None) or 0)
    if batch > 1:
        ids[1, length // 2:] = pad
        mask[1, length // 2:] = 0
    return ids, mask


def _check(module: _Outputs, directory: Path) -> None:
    """Run the graph on a padded batch and on one text (the two attention branches of
    :mod:`.onnx_attention`), of shapes other than the traced one, and compare with torch."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(directory / GRAPH_FILE), providers=["CPUExecutionProvider"])
    for batch, length in ((3, 23), (1, 19)):
        ids, mask = _example(module.network, batch=batch, length=length, seed=1)
        got = session.run(module.names, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        with torch.no_grad():
            want = module(ids, mask)
        for name, a, b in zip(module.names, got, want):
            keep = mask.numpy().astype(bool)  # padded positions are never read by the pipeline
            diff = float(np.abs(np.asarray(a)[keep] - b.numpy()[keep]).max())
            if not diff <= EXPORT_TOLERANCE:
                raise CheckpointError(f"the ONNX export of {directory} differs from torch by {diff:.2e} on {name!r} "
                                      f"({'one text' if batch == 1 else 'a padded batch'})")


def _publish(target: Path, build: Any) -> Path:
    """``build(tmp)`` into a temporary sibling of ``target``, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        build(tmp)
        write_checksums(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process published first: keep theirs
            if not (target / META_FILE).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
