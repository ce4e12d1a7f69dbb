"""Export a cross-encoder to ONNX (float32, checked against torch to 1e-4) and quantise it to
int8 (needs torch; see :mod:`m3search.encode.backends.onnx_export` for the encoder's, whose
exporter, publishing and checksums this shares)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..encode.backends.onnx_export import _publish, quantize
from ..encode.backends.onnx_files import GRAPH_FILE, META_FILE
from ..errors import CheckpointError
from .onnx_scorer import REDUCED_RANGE, rerank_graph_dir
from .torch_scorer import TorchScorer

#: Largest difference from torch's logits accepted when a float32 export is checked.
RERANK_EXPORT_TOLERANCE = 1e-4


class _Logits(torch.nn.Module):
    """The classifier with one flat output, ``logits``, as the exporter wants."""

    def __init__(self, model: torch.nn.Module, type_ids: bool) -> None:
        super().__init__()
        self.model, self.type_ids = model, type_ids

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        extra = {"token_type_ids": token_type_ids} if self.type_ids else {}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits.view(-1)


def cached_graph(checkpoint: Path, kind: str) -> Path:
    """The graph directory of ``checkpoint`` for ``kind`` (``onnx`` or ``onnx-int8``), exported once."""
    target = rerank_graph_dir(checkpoint, kind)
    if (target / META_FILE).is_file():
        return target
    if kind == "onnx-int8":
        source = cached_graph(checkpoint, "onnx")
        reduce_range = target.name.endswith(REDUCED_RANGE)  # 7-bit weights where int8 products saturate
        return _publish(target, lambda tmp: quantize(source, tmp, quantize_heads=True, reduce_range=reduce_range))
    scorer = TorchScorer(checkpoint, device="cpu")
    return _publish(target, lambda tmp: export(scorer, tmp))


def export(scorer: TorchScorer, directory: Path) -> Path:
    """Export ``scorer``'s model (float32, CPU, eager attention) into ``directory``; return it."""
    model = scorer.model.float().cpu().eval()
    setter = getattr(model, "set_attn_implementation", None)
    if setter is not None:
        with contextlib.suppress(ValueError, ImportError):
            setter("eager")
    module = _Logits(model, scorer.uses_type_ids).eval()
    names = ["input_ids", "attention_mask", *(["token_type_ids"] if scorer.uses_type_ids else [])]
    example = _example(model, batch=2, length=16, seed=0)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    directory.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):
        torch.onnx.export(module, tuple(example[n] for n in names), str(directory / GRAPH_FILE), dynamo=True,
                          verbose=False, input_names=names, output_names=["logits"],
                          dynamic_shapes={n: {0: batch, 1: seq} for n in names})
    meta = {"kind": "onnx", "cross_encoder": True, "inputs": names, "weights": scorer.weights_fingerprint(),
            "torch": torch.__version__, "heads": []}
    (directory / META_FILE).write_text(json.dumps(meta, indent=2))
    _check(module, names, directory)
    return directory


def _example(model: torch.nn.Module, *, batch: int, length: int, seed: int) -> dict[str, torch.Tensor]:
    config: Any = model.config
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, int(config.vocab_size), (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)
    types[:, length // 2:] = 1
    if batch > 1:
        ids[1, length // 2:] = int(getattr(config, "pad_token_id", 0) or 0)
        mask[1, length // 2:] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _check(module: _Logits, names: list[str], directory: Path) -> None:
    """The graph against torch on a padded batch of another shape."""
    import onnxruntime as ort

    example = _example(module.model, batch=3, length=23, seed=1)
    session = ort.InferenceSession(str(directory / GRAPH_FILE), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {n: example[n].numpy() for n in names})[0]
    with torch.no_grad():
        want = module(*(example[n] for n in names)).numpy()
    diff = float(np.abs(got - want).max())
    if not diff <= RERANK_EXPORT_TOLERANCE:
        raise CheckpointError(f"the ONNX export of {directory} differs from torch by {diff:.2e} on its logits")
