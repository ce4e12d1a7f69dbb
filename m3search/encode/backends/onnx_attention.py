"""Attention whose memory grows linearly with the text: ONNX Runtime's flash path for unpadded batches.

ONNX Runtime's CPU ``Attention`` operator (and its int8 ``QAttention``) materialises every
head's attention probabilities: heads x length² floats, 4.3 GB per layer for one 8,192-token
text of BGE-M3's shape. Its ``MultiHeadAttention`` operator has a flash-attention kernel (MLAS,
tiles sized to the L2 cache) that never holds that matrix, but only when it is given no key
padding mask.

:func:`unmask_when_unpadded` wraps each fused attention node of an exported graph in an ``If``
on "no position of this batch is padding" (computed once per call from ``attention_mask``):

- *then*: the projection the fused node contained (``MatMul`` of the packed query/key/value
  weights; ``MatMulIntegerToFloat`` of the same int8 codes and scales in a quantised graph), a
  ``Split`` into query, key and value, and ``MultiHeadAttention`` without a mask (flash);
- *else*: the fused node itself, unchanged (padded batches run exactly as before).

A single text, which is how every long document goes (the token budget), always takes the
flash branch, as does a batch of texts of one length. Both branches compute the same function:
the float32 export checks each against torch, the tests check the int8 graph's two branches
against each other. ONNX Runtime takes its flash kernel when it detects the CPU's L2 cache size
and ``ORT_DISABLE_FLASH_ATTENTION`` is unset; otherwise ``MultiHeadAttention`` materialises the
probabilities as the fused operator does (same outputs, the old memory).
:func:`restore_fused` undoes the rewrite (the int8 quantiser reads the fused node, not the
``If``). Measured on the offline model: padded batches as fast as before; 500-token single
texts within noise of the materialised path.

>>> BRANCH_OPS
('MultiHeadAttention',)
"""

from __future__ import annotations

from typing import Any

#: What the *then* branch adds beside the fused node, which the *else* branch keeps.
BRANCH_OPS = ("MultiHeadAttention",)
#: The graph's boolean "no padding in this batch", shared by every layer's ``If``.
UNPADDED = "m3search_unpadded"
_HEAD_NODES = ("m3search_mask_min", "m3search_unpadded_test")
_ZERO = "m3search_zero"
_MS = "com.microsoft"
_FUSED = ("Attention", "QAttention")
#: Settings of the fused operators that the flash branch reproduces only at their default (off).
_DEFAULT_OFF = ("unidirectional", "do_rotary", "past_present_share_buffer", "rotary_embedding_dim")


def unmask_when_unpadded(model: Any) -> int:
    """Rewrite every fused attention node of ``model`` (an ``onnx.ModelProto``, in place) as the
    module docstring describes; return how many. Nodes with settings the flash branch does not
    reproduce (unequal query/key/value sizes, past states, causal masks) are left alone."""
    from onnx import helper, numpy_helper

    graph = model.graph
    shapes = {i.name: list(i.dims) for i in graph.initializer}
    nodes: list[Any] = []
    for node in graph.node:
        if not _rewritable(node, shapes):
            nodes.append(node)
            continue
        name, out = node.name or node.output[0], node.output[0]
        sizes = f"{name}_split_sizes"
        hidden = shapes[node.input[1]][1] // 3
        graph.initializer.append(numpy_helper.from_array(_int64([hidden] * 3), sizes))
        qkv, q, k, v = (f"{name}_{part}" for part in ("qkv", "q", "k", "v"))
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        fused = helper.make_node(node.op_type, list(node.input), [f"{out}_masked"], name=name, domain=_MS,
                                 **attributes)
        shared = {k: v for k, v in attributes.items() if k in ("num_heads", "mask_filter_value", "scale")}
        flash = [
            _projection(node, qkv),
            helper.make_node("Split", [qkv, sizes], [q, k, v], name=f"{name}_split", axis=-1),
            helper.make_node("MultiHeadAttention", [q, k, v, node.input[2]], [f"{out}_flash"], name=f"{name}_flash",
                             domain=_MS, **shared),
        ]
        nodes.append(helper.make_node("If", [UNPADDED], [out], name=f"{name}_if",
                                      then_branch=_branch(f"{name}_then", flash),
                                      else_branch=_branch(f"{name}_else", [fused])))
    count = sum(1 for n in nodes if n.op_type == "If" and n.input[0] == UNPADDED)
    if count:
        graph.initializer.append(numpy_helper.from_array(_int64(0), _ZERO))
        shortest = "m3search_mask_min"
        head = [helper.make_node("ReduceMin", ["attention_mask"], [shortest], name=_HEAD_NODES[0], keepdims=0),
                helper.make_node("Greater", [shortest, _ZERO], [UNPADDED], name=_HEAD_NODES[1])]
        del graph.node[:]
        graph.node.extend(head + nodes)
    return count


def restore_fused(model: Any) -> int:
    """Undo :func:`unmask_when_unpadded` on ``model`` (in place): each ``If`` becomes the fused
    node of its *else* branch again; return how many."""
    from onnx import helper

    graph = model.graph
    nodes: list[Any] = []
    restored = 0
    for node in graph.node:
        if node.name in _HEAD_NODES:
            continue
        if node.op_type == "If" and list(node.input) == [UNPADDED]:
            branches = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            fused = branches["else_branch"].node[0]
            fused.output[0] = node.output[0]
            nodes.append(fused)
            restored += 1
        else:
            nodes.append(node)
    if restored:
        drop = {_ZERO} | {f"{n.name}_split_sizes" for n in nodes if n.op_type in _FUSED}
        kept = [i for i in graph.initializer if i.name not in drop]
        del graph.initializer[:]
        graph.initializer.extend(kept)
        del graph.node[:]
        graph.node.extend(nodes)
    return restored


def _projection(node: Any, output: str) -> Any:
    """The packed query/key/value projection the fused ``node`` computes before attending."""
    from onnx import helper

    if node.op_type == "Attention":
        x, weights = node.input[:2]
        return helper.make_node("MatMul", [x, weights], [output], name=f"{node.name}_qkv")
    # QAttention(input, weight, bias, input_scale, weight_scale, mask, input_zero_point, weight_zero_point)
    x, weights, _, x_scale, w_scale, _, x_zero, w_zero = node.input[:8]
    return helper.make_node("MatMulIntegerToFloat", [x, weights, x_scale, w_scale, x_zero, w_zero], [output],
                            name=f"{node.name}_qkv", domain=_MS)


def _branch(name: str, nodes: list[Any]) -> Any:
    from onnx import TensorProto, helper

    result = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)
    return helper.make_graph(nodes, name, [], [result])


def _rewritable(node: Any, shapes: dict[str, list[int]]) -> bool:
    from onnx import helper

    if node.op_type not in _FUSED or node.domain != _MS or len(node.output) != 1:
        return False
    inputs = list(node.input)
    wanted = 4 if node.op_type == "Attention" else 8
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if len([i for i in inputs if i]) != wanted or inputs[wanted:] and any(inputs[wanted:]):
        return False
    settings = {k: v for k, v in attributes.items() if k not in _DEFAULT_OFF or v}  # explicit defaults are fine
    if set(settings) - {"num_heads", "mask_filter_value", "scale"}:
        return False
    weights = shapes.get(inputs[1])
    return weights is not None and len(weights) == 2 and weights[1] % 3 == 0


def _int64(values: Any) -> Any:
    import numpy as np

    return np.asarray(values, dtype=np.int64)


def rewrite_file(path: Any, rewrite: Any) -> int:
    """Apply ``rewrite`` (:func:`unmask_when_unpadded` or :func:`restore_fused`) to the graph file
    at ``path``, in place, keeping its weights external when they were (``<file>.data``)."""
    import onnx

    data = path.with_name(path.name + ".data")
    external = data.is_file()
    model = onnx.load(str(path), load_external_data=external)
    count = int(rewrite(model))
    if count:
        if external:  # every weight is in memory now; onnx appends to an existing data file
            data.unlink()
        onnx.save(model, str(path), save_as_external_data=external, all_tensors_to_one_file=True,
                  location=data.name if external else None)
    return count
