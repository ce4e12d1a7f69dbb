"""SmoothQuant calibration of the fused graph before int8 quantisation (Xiao et al., 2023).

Dynamic int8 gives each activation matrix one scale per pass, so a few channels with large
values (the outliers of every transformer's layer-norm and GELU outputs) squeeze the rest into
a few int8 steps. SmoothQuant moves that range into the weights, which keep one scale per
output channel: for each linear layer with input ``X`` and weights ``W`` (``[inputs,
outputs]``), per input channel ``j``

    s_j = max|X_j| ** alpha / max|W_j| ** (1 - alpha),   X' = X / s,   W' = diag(s) W

so ``X' W' = X W`` in float32 and both factors quantise with less error. The targets are the
fused ``Attention`` nodes (their packed query/key/value weights) and both feed-forward
``MatMul`` nodes of each layer (reading a layer norm's and a GELU's output). The division is a
``Mul`` by ``1 / s`` inserted before each target (a layer norm's output also feeds the residual
path, so it cannot be folded into the norm's weights); the heads' projections read the final
hidden states and are left alone.

``max|X_j|`` comes from running the float32 graph, one text at a time on one thread (no
padding to skew the maxima, the same numbers on every run), over multilingual texts of
sentence to paragraph length built from ``calibration/sib200-train.tsv``
(:func:`calibration_texts`). Each ``s`` is rounded to a 1/16 step of its base-2 logarithm, so
one machine and ONNX Runtime version gives the same graph bytes on every export (another CPU's
kernels can round a maximum differently, which moves a scale only when it lies at a step's
edge). The cost is one element-wise pass per target; what it buys is in the int8 rows of the evaluation and encoding tables of the docs
(alpha 0.8 was the best of 0.3, 0.5, 0.8, 0.9 and 1.0 on the offline model's dense and
multi-vector cosines to float32 over XQuAD paragraphs and questions).

ONNX Runtime's own SmoothQuant (``quantize_static(..., extra_options={"SmoothQuant": True})``)
needs Intel Neural Compressor and static activation scales, and it does not know the fused
contrib operators this graph is made of; this module is the rewrite alone, before the same
``quantize_dynamic`` as the uncalibrated graph.

>>> ALPHA, METHOD
(0.8, 'smoothquant')
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigurationError

#: The calibrations an ``onnx-int8`` graph can have: SmoothQuant on the shipped texts, or none
#: (dynamic int8 alone, the graph of export versions <= 6).
CALIBRATIONS = ("smoothquant", "none")
METHOD = "smoothquant"
#: How much of the activations' range moves into the weights (0: none, 1: all of it).
ALPHA = 0.8
CALIBRATION_FILE = Path(__file__).with_name("calibration") / "sib200-train.tsv"
#: Tokens per calibration text at most.
MAX_TOKENS = 512
#: What produces the inputs of the ``MatMul`` targets: layer norms (first feed-forward layer) and
#: GELUs (second feed-forward layer).
_SOURCES = ("SkipLayerNormalization", "LayerNormalization", "SkipSimplifiedLayerNormalization",
            "BiasGelu", "Gelu", "FastGelu")
_METADATA_KEY = "m3search.calibration"


def check_calibration(calibration: str) -> str:
    """``calibration`` if it is one of :data:`CALIBRATIONS`, else a :class:`ConfigurationError`.

    >>> check_calibration("none")
    'none'
    """
    if calibration not in CALIBRATIONS:
        raise ConfigurationError(f"unknown int8 calibration {calibration!r}; choose from {list(CALIBRATIONS)}")
    return calibration


def recorded_calibration(weights: str) -> str:
    """The calibration of the int8 graph whose weights fingerprint is ``weights`` (what an index's
    identity records): ``"none"`` for an uncalibrated graph (``...+int8pc``), else ``"smoothquant"``.

    >>> recorded_calibration("abc+int8pc-heads"), recorded_calibration("abc+int8sq")
    ('none', 'smoothquant')
    """
    return "none" if "+int8pc" in weights else "smoothquant"


def calibration_texts() -> list[str]:
    """The calibration texts: the shipped sentences (two SIB-200 train sentences in each of 62
    languages, in language order), each language's two joined, and runs of eight joined (four
    languages): sentence, short-passage and paragraph lengths, as queries and documents have.
    Sentences alone calibrate the second feed-forward layer for short texts only (measured: on
    XQuAD paragraphs, dense cosine to float32 0.9965 with sentences alone, 0.9984 with these).

    >>> texts = calibration_texts(); len(texts), texts[0][:3], len(texts[-1]) > 8 * len(texts[0]) // 2
    (202, 'የዋና', True)
    """
    with open(CALIBRATION_FILE, encoding="utf-8", newline="") as handle:
        rows = [row["text"] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return rows + [" ".join(rows[i:i + n]) for n in (2, 8) for i in range(0, len(rows), n)]


def describe(token_ids: Sequence[Sequence[int]]) -> dict[str, Any]:
    """What an export records of its calibration (in ``m3search-onnx.json`` and the graph's metadata)."""
    digest = hashlib.sha256(json.dumps([list(t) for t in token_ids]).encode()).hexdigest()[:16]
    return {"method": METHOD, "alpha": ALPHA, "texts": f"{CALIBRATION_FILE.name}: {len(token_ids)} texts from "
            "124 SIB-200 train sentences (FLORES-200) in 62 languages", "tokens": int(sum(len(t) for t in token_ids)),
            "token_ids_sha256": digest}


def targets(graph: Any) -> list[Any]:
    """The nodes SmoothQuant rescales: fused attention and ``MatMul`` nodes reading a layer
    norm's output with a weight of their own (not one shared with another node)."""
    producers = {out: node for node in graph.node for out in node.output}
    weights = {i.name for i in graph.initializer if len(i.dims) == 2}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    outputs = {o.name for o in graph.output}
    found = []
    for node in graph.node:
        if len(node.input) < 2 or node.input[1] not in weights or uses[node.input[1]] != 1 or node.input[0] in outputs:
            continue
        source = producers.get(node.input[0])
        if node.op_type == "Attention" or (node.op_type == "MatMul" and source is not None
                                           and source.op_type in _SOURCES and source.output[0] == node.input[0]):
            found.append(node)
    return found


def activation_ranges(model: Any, directory: Path, token_ids: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """``max|X_j|`` per channel of each target's input, over ``token_ids`` run one at a time
    through ``model`` (a graph whose weights, if external, lie in ``directory``)."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = list(dict.fromkeys(node.input[0] for node in targets(probe.graph)))
    known = {o.name for o in probe.graph.output}
    probe.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None)
                              for n in names if n not in known)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the same maxima on every run
    options.inter_op_num_threads = 1
    with tempfile.NamedTemporaryFile(suffix=".onnx", dir=directory) as file:
        onnx.save(probe, file.name)
        session = ort.InferenceSession(file.name, options, providers=["CPUExecutionProvider"])
    ranges: dict[str, np.ndarray] = {}
    for ids in token_ids:
        row = np.asarray([ids], dtype=np.int64)
        values = session.run(names, {"input_ids": row, "attention_mask": np.ones_like(row)})
        for name, value in zip(names, values):
            peak = np.abs(np.asarray(value, dtype=np.float32)).reshape(-1, value.shape[-1]).max(axis=0)
            ranges[name] = peak if name not in ranges else np.maximum(ranges[name], peak)
    return ranges


def smooth(model: Any, ranges: dict[str, np.ndarray], *, alpha: float = ALPHA) -> int:
    """Rescale every target of ``model`` (weights loaded, changed in place) with ``ranges`` as
    the module docstring describes; return how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    chosen = {node.output[0] for node in targets(graph)}  # protobuf wrappers have no stable id()
    nodes: list[Any] = []
    for node in graph.node:
        if node.output[0] in chosen:
            weight = initializers[node.input[1]]
            w = numpy_helper.to_array(weight).astype(np.float32)
            w_peak = np.maximum(np.abs(w).max(axis=1), 1e-5).astype(np.float64)
            x_peak = np.maximum(ranges[node.input[0]], 1e-5).astype(np.float64)
            scale = np.clip(x_peak ** alpha / w_peak ** (1 - alpha), 1e-4, 1e4)
            scale = np.exp2(np.round(16 * np.log2(scale)) / 16).astype(np.float32)
            weight.CopyFrom(numpy_helper.from_array((w * scale[:, None]).astype(np.float32), weight.name))
            inverse = f"m3search_smooth_{len(nodes)}"
            graph.initializer.append(numpy_helper.from_array((1 / scale).astype(np.float32), inverse))
            nodes.append(helper.make_node("Mul", [node.input[0], inverse], [inverse + "_out"], name=inverse))
            node.input[0] = inverse + "_out"
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    return len(chosen)


def record(model: Any, description: dict[str, Any]) -> None:
    """Write ``description`` into the graph's own metadata (``m3search.calibration``)."""
    kept = [p for p in model.metadata_props if p.key != _METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = _METADATA_KEY, json.dumps(description, sort_keys=True)


def recorded(model: Any) -> dict[str, Any] | None:
    """The calibration ``model``'s metadata records (``None``: an uncalibrated graph)."""
    for prop in model.metadata_props:
        if prop.key == _METADATA_KEY:
            return dict(json.loads(prop.value))
    return None
