"""bge-m3-lite's graph recipes applied to m3search's fused graph of the benchmark's checkpoint.

``bge-m3-lite`` (PyPI, MIT) cannot build its graphs for the offline checkpoint itself: its
``fuse`` reads its own download of BGE-M3's Hub export (``model.onnx`` + ``model.onnx_data``)
and checks for BGE-M3's 24 fused attention nodes, 16 heads and width 1,024; its SmoothQuant
calibration tokenises with BGE-M3's ``sentencepiece.bpe.model`` and finds its targets by the
node names of the TorchScript exporter. The offline multilingual-e5-small has 12 layers, 12
heads, width 384 and is exported with torch's dynamo exporter, and the Hub is out of reach.

Its graph rewrites themselves work on operator types, so this module applies them, imported
from the installed package, to m3search's own fused float32 graph (the same
``onnxruntime.transformers`` fusions its ``fuse`` runs):

- ``fp32``: attention as ``MultiHeadAttention`` over query chunks of 256 in a ``Loop`` and the
  layer tail over rows of 256 (``bge_m3_lite.fuse._chunk_attention``, its default);
- ``int8``: its default ``rowwise`` quantisation (per-token uint8 activations, per-column int8
  weights, int8 word embeddings, attention in chunks of 256; ``_quantize_rowwise``) without
  SmoothQuant (which needs the calibration above); the two head projections stay float32, as
  in m3search's int8 graph.

The result runs through m3search's own pipeline (tokeniser, pooling, heads' post-processing),
so the rows differ from m3search's only in the graph. Needs ``pip install "bge-m3-lite[quant]"``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

RECIPES = ("fp32", "int8")


def _to_opset_18(graph: Any, top: Any = None) -> None:
    """bge-m3-lite writes its nodes for opset 13 graphs; m3search's export is opset 20, where
    ``Split`` into equal parts needs ``num_outputs`` and ``ReduceMax``/``ReduceMin`` take their
    axes as an input (the same operations, spelled for the newer opset)."""
    import numpy as np
    from onnx import AttributeProto, helper, numpy_helper

    top = top if top is not None else graph
    for node in graph.node:
        if node.op_type == "Split" and len(node.input) < 2 and not any(a.name == "num_outputs" for a in node.attribute):
            node.attribute.append(helper.make_attribute("num_outputs", len(node.output)))
        axes = [a for a in node.attribute if a.name == "axes"]
        if node.op_type in ("ReduceMax", "ReduceMin") and axes:
            name = f"{node.output[0]}/axes"
            top.initializer.append(numpy_helper.from_array(np.asarray(list(axes[0].ints), dtype=np.int64), name))
            node.attribute.remove(axes[0])
            node.input.append(name)
        for attribute in node.attribute:
            if attribute.type == AttributeProto.GRAPH:
                _to_opset_18(attribute.g, top)


def build(source: Path, target: Path, recipe: str) -> Path:
    """Write ``target/model.onnx`` (+ m3search's export description) made from the fused graph in
    ``source`` with bge-m3-lite's ``recipe``; return ``target``."""
    import onnx
    from bge_m3_lite.fuse import _chunk_attention
    from bge_m3_lite.quantize import _quantize_rowwise

    from m3search.encode.backends.onnx_attention import restore_fused
    from m3search.encode.backends.onnx_files import GRAPH_FILE, META_FILE

    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {RECIPES}")
    model = onnx.load(str(source / GRAPH_FILE))
    restore_fused(model)  # bge-m3-lite rewrites the fused Attention nodes
    if recipe == "fp32":
        _chunk_attention(model, 256)
    else:
        heads = tuple(f"^{re.escape(n.name)}$" for n in model.graph.node if n.op_type == "MatMul" and "hidden" in n.input)
        _quantize_rowwise(model, quantize_embeddings=True, keep_fp32=heads, attention_chunk=256, tail="rows")
    _to_opset_18(model.graph)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    onnx.save(model, str(target / GRAPH_FILE))
    meta: dict[str, Any] = json.loads((source / META_FILE).read_text())
    meta.update(kind="onnx", fused={"recipe": f"bge-m3-lite {recipe}"})
    (target / META_FILE).write_text(json.dumps(meta, indent=2))
    return target
