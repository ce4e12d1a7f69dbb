"""Fused ONNX graphs for ONNX Runtime: attention, skip-layer-norm and GELU as contrib ops.

ONNX Runtime's transformer optimiser (``onnxruntime.transformers.optimizer``, the route
``bge-m3-lite``'s ``fuse.py`` takes too) rewrites a BERT-family encoder graph into its contrib
operators: ``Attention`` (one op per layer instead of MatMul/Softmax chains),
``SkipLayerNormalization`` and ``BiasGelu``. It finds attention only behind a mask it knows, and
transformers 5's mask construction exports as ``Where``/``And``/``GatherND`` chains it does not
recognise. :class:`FusableOutputs` therefore runs the backbone's embeddings and encoder itself
with transformers 4's additive mask (``masked_fill`` of the inverted mask), the pattern the
optimiser matches; its outputs equal :meth:`.torch.M3Network.forward`'s.

The fused attention reads the mask as each row's length (right padding, which is how
:class:`~.base.TokenBatch` pads); unpadded batches (every single text) take a flash-attention
branch whose memory grows linearly with the length (:mod:`.onnx_attention`). Contrib operators run on ONNX Runtime only: OpenVINO reads the
plain export (:func:`~.onnx_files.variant_name`). On the offline model the float32 fused graph
runs 1.1-1.2x the plain one (``benchmarks/encode.py``).
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import onnx_attention

log = logging.getLogger(__name__)
#: The backbone families whose layers the optimiser's ``bert`` fusions match.
FUSABLE_MODEL_TYPES = ("bert", "roberta", "xlm-roberta")
#: The contrib operators a fused graph is counted by.
FUSED_OPS = ("Attention", "MultiHeadAttention", "SkipLayerNormalization", "BiasGelu", "FastGelu", "Gelu")


class FusableOutputs(torch.nn.Module):
    """The outputs of :class:`.torch.M3Network` computed with a mask the optimiser recognises."""

    def __init__(self, network: Any, parts: tuple[str, ...], names: list[str]) -> None:
        super().__init__()
        self.network, self.parts, self.names = network, parts, names

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        backbone = self.network.backbone
        embedded = backbone.embeddings(input_ids=input_ids)  # XLM-R's position ids follow the padding
        batch, length = attention_mask.shape
        inverted = 1.0 - attention_mask.unsqueeze(1).unsqueeze(2).expand(batch, 1, length, length).to(embedded.dtype)
        mask = inverted.masked_fill(inverted.to(torch.bool), torch.finfo(embedded.dtype).min)
        hidden = backbone.encoder(embedded, attention_mask=mask).last_hidden_state
        out = {"hidden": hidden}
        if "sparse" in self.parts:
            out["sparse"] = self.network.token_weights(hidden, input_ids)
        if "colbert" in self.parts:
            out["colbert"] = self.network.colbert_linear(hidden)
        return tuple(out[name] for name in self.names)


def fusable(network: Any) -> bool:
    """Whether ``network``'s backbone is a family the optimiser fuses (and runs embeddings + encoder)."""
    model_type = getattr(network.backbone_config, "model_type", "")
    backbone = network.backbone
    return model_type in FUSABLE_MODEL_TYPES and hasattr(backbone, "embeddings") and hasattr(backbone, "encoder")


def split_mask_unsqueeze(path: Path) -> int:
    """torch's exporter folds ``mask.unsqueeze(1).unsqueeze(2)`` into one ``Unsqueeze(axes=[1, 2])``;
    the optimiser's mask pattern wants two. Split them back, in place; return how many."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    constants = {i.name: i for i in model.graph.initializer}
    split = 0
    for node in list(model.graph.node):
        if node.op_type != "Unsqueeze" or node.input[0] != "attention_mask" or node.input[1] not in constants:
            continue
        axes = numpy_helper.to_array(constants[node.input[1]]).tolist()
        if len(axes) != 2:
            continue
        names = [f"{node.name}_axis_{a}" for a in axes]
        for name, axis in zip(names, axes):
            model.graph.initializer.append(numpy_helper.from_array(np.array([axis], dtype=np.int64), name))
        middle = node.output[0] + "_first"
        position = list(model.graph.node).index(node)
        model.graph.node.remove(node)
        model.graph.node.insert(position, helper.make_node("Unsqueeze", [middle, names[1]], list(node.output),
                                                           name=node.name + "_b"))
        model.graph.node.insert(position, helper.make_node("Unsqueeze", [node.input[0], names[0]], [middle],
                                                           name=node.name + "_a"))
        split += 1
    onnx.save(model, str(path))
    return split


def fuse(source: Path, target: Path, *, num_heads: int, hidden_size: int, external_data: bool = False) -> dict[str, int]:
    """The optimiser's ``bert`` fusions of the graph ``source`` written to ``target`` (ONNX
    Runtime's own graph optimisations are left to the session: the saved graph stays portable
    across its versions); return the fused operators counted."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the optimiser logs each fusion on the root logger
    try:
        model = optimizer.optimize_model(str(source), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                                         optimization_options=FusionOptions("bert"), opt_level=0, use_gpu=False)
        model.save_model_to_file(str(target), use_external_data_format=external_data)
    finally:
        root.setLevel(level)
    onnx_attention.rewrite_file(target, onnx_attention.unmask_when_unpadded)
    return op_counts(target)


def op_counts(path: Path) -> dict[str, int]:
    """How many of each :data:`FUSED_OPS` contrib operator (ONNX Runtime's ``com.microsoft``
    domain, not the standard ``Gelu``) the graph at ``path`` holds, subgraphs included (each
    layer's attention has an ``Attention`` and a ``MultiHeadAttention`` branch:
    :mod:`.onnx_attention`)."""
    import onnx

    counts: collections.Counter[str] = collections.Counter()
    pending = [onnx.load(str(path), load_external_data=False).graph]
    while pending:
        graph = pending.pop()
        for node in graph.node:
            counts[node.op_type] += node.domain == "com.microsoft"
            pending += [a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH]
    return {op: counts[op] for op in FUSED_OPS if counts.get(op)}
