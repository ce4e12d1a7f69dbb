"""What several commands share: model options, loading the encoder, splitting lists (no torch)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..encode.checkpoints.config import LONG_DEFAULTS, LONG_STRATEGIES, WINDOW_DENSE
from ..encode.checkpoints.hub import DEFAULT_MODEL
from ..errors import ConfigurationError
from ..identity import differences
from ..index.lock import DEFAULT_WAIT
from ..types import PARTS

if TYPE_CHECKING:
    from ..encode import Encoder

PARTS_HELP = "comma-separated parts: dense, sparse, colbert, or all (default: dense)"
#: What --backend accepts (the same as ``m3search.encode.backends.BACKENDS``, without importing it).
BACKEND_CHOICES = ("torch", "onnx", "onnx-int8", "openvino", "openvino-bf16")
#: What --int8-calibration accepts (``m3search.encode.backends.onnx_smoothquant.CALIBRATIONS``).
CALIBRATION_CHOICES = ("smoothquant", "none")
HEADS_CHOICES = ("model", "baseline", "random", "none")
#: The long-text options, by their names in the encoder's settings.
LONG_FLAGS = ("long_strategy", "window_size", "window_stride", "window_dense", "mcls_interval")
BACKEND_HELP = ("what runs the network: torch (default), onnx (ONNX Runtime, float32), onnx-int8 (int8 weights), "
                "openvino or openvino-bf16; the ONNX graph is exported once per model and cached")


def split_list(value: str | None) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; ``None`` stays ``None``.

    >>> split_list("nDCG@10, MRR@10")
    ['nDCG@10', 'MRR@10']
    """
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def parts_arg(value: str) -> tuple[str, ...] | str:
    """``"all"`` or a tuple of part names, checked before any model loads.

    >>> parts_arg("dense, sparse")
    ('dense', 'sparse')
    """
    if value == "all":
        return "all"
    parts = tuple(split_list(value) or ())
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ConfigurationError(f"--parts takes dense, sparse, colbert (comma-separated) or all, got {value!r}")
    return parts


def positive(name: str, value: int | None) -> None:
    """Refuse a count below 1 (``--batch-size 0``) before anything slow happens."""
    if value is not None and value < 1:
        raise ConfigurationError(f"{name} must be >= 1, got {value}")


def add_wait_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
                        help=f"how long to wait for an index another process holds (default: {DEFAULT_WAIT:g})")


def add_text_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw-text", action="store_true",
                        help="keep texts byte for byte (default: byte-order and bidi marks removed, NFC)")


def add_model_args(parser: argparse.ArgumentParser, default_heads: str = "model", *, recorded: bool = False) -> None:
    """The model options; ``recorded``: for a command that may write into an existing index, whose
    recorded model, backend and heads are the defaults there (``None`` here: resolved later)."""
    where = "the model an existing index records, otherwise " if recorded else ""
    parser.add_argument("--model", default=None if recorded else DEFAULT_MODEL,
                        help=f"short name, local directory or hub id (default: {where}{DEFAULT_MODEL})")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default=None if recorded else "torch",
                        help=BACKEND_HELP + ("; an existing index: the backend it records" if recorded else ""))
    parser.add_argument("--int8-calibration", choices=CALIBRATION_CHOICES, default=None,
                        help="with --backend onnx-int8: smoothquant (default; calibrated on texts in 62 languages) "
                             "or none (dynamic int8 alone)" + ("; an existing index: the one it records" if recorded else ""))
    parser.add_argument("--heads", choices=HEADS_CHOICES, default=None if recorded else default_heads,
                        help="sparse and multi-vector heads: model (the checkpoint's own; multilingual-e5-small ships "
                             "trained ones), baseline (identity multi-vector, uniform term weights), random "
                             "(untrained, seeded), or none (dense only)" + ("; an existing index: the heads it records"
                                                                           if recorded else ""))
    parser.add_argument("--colbert-dim", type=int, default=None,
                        help="multi-vector width: a nested width of a compact head (default: the head's own)")
    long = parser.add_argument_group("long texts")
    long.add_argument("--long-strategy", choices=LONG_STRATEGIES, default=None,
                      help="a text longer than the model's window: truncate (default), mcls (CLS-pooled models with "
                           "long positions) or windows (overlapping windows merged into one embedding)")
    long.add_argument("--window-size", type=int, default=None, help="tokens per window (default: the model's limit)")
    long.add_argument("--window-stride", type=int, default=None,
                      help="tokens between window starts (default: 64 tokens of overlap)")
    long.add_argument("--window-dense", choices=WINDOW_DENSE, default=None,
                      help="with windows, a document's dense score: mean (one vector, the windows' weighted mean; "
                           "default) or best (every window's vector stored, the best window scores)")
    long.add_argument("--mcls-interval", type=int, default=None, help="tokens between inserted CLS (default: 256)")


def load_encoder(args: argparse.Namespace) -> Encoder:
    """The encoder the model options name (imports torch); ``-q`` silences loading bars too."""
    from ..encode import Encoder

    if getattr(args, "quiet", False):
        quiet_loading()

    settings = {k: getattr(args, k, None) for k in (*LONG_FLAGS, "colbert_dim")}
    encoder = Encoder.load(args.model or DEFAULT_MODEL, device=args.device, backend=getattr(args, "backend", None) or "torch",
                           calibration=getattr(args, "int8_calibration", None),
                           **{k: v for k, v in settings.items() if v is not None})
    if args.heads in ("baseline", "random"):
        encoder.add_heads(init=args.heads, replace=True)
    elif args.heads == "none":
        encoder.without_heads()
    return encoder


def load_recorded_encoder(args: argparse.Namespace, recorded: Mapping[str, Any], where: str, *,
                          check: bool = True) -> Encoder:
    """The encoder that adds to the index at ``where``, whose manifest records ``recorded``: the
    model, backend, heads and long-text settings it records, unless an option names them (with
    ``check``, a model option that differs from the recording is refused with one line naming both)."""
    from ..encode import Encoder

    if check:
        refuse_other_settings(args, recorded, where)
    if getattr(args, "quiet", False):
        quiet_loading()
    encoder = Encoder.for_identity(dict(recorded), name=args.model, device=args.device, backend=args.backend)
    if check and args.model is not None and differences(recorded, encoder.identity):
        raise ConfigurationError(
            f"the index at {where} was built with model {recorded_model(recorded)!r}, not --model {args.model!r}: "
            "leave --model out to add to it with its own model, or build a new index")
    return encoder


def recorded_model(identity: Mapping[str, Any]) -> str:
    """Where a recorded encoder loads from (its source), or its name.

    >>> recorded_model({"name": "tiny", "source": "/models/tiny"}), recorded_model({"name": "tiny"})
    ('/models/tiny', 'tiny')
    """
    return str(identity.get("source") or identity.get("name"))


def refuse_other_settings(args: argparse.Namespace, recorded: Mapping[str, Any], where: str) -> None:
    """Refuse ``--heads``, ``--colbert-dim`` or a long-text option that differs from what the index at
    ``where`` records.

    >>> args = argparse.Namespace(heads=None, long_strategy="windows", window_size=None, window_stride=None,
    ...                           window_dense=None, mcls_interval=None)
    >>> refuse_other_settings(args, {"long": {"long_strategy": "windows"}}, "idx")
    >>> refuse_other_settings(args, {}, "idx")
    Traceback (most recent call last):
    ...
    m3search.errors.ConfigurationError: the index at idx was built with --long-strategy 'truncate', not 'windows': an existing index keeps its model's settings (leave the option out, or build a new index)
    """
    recorded_long = {**LONG_DEFAULTS, **dict(recorded.get("long") or {})}
    given = {f"--{k.replace('_', '-')}": (recorded_long.get(k), getattr(args, k, None)) for k in LONG_FLAGS}
    heads = str(recorded.get("heads", "checkpoint")).split(":")[0]
    given["--heads"] = ({"checkpoint": "model"}.get(heads, heads), getattr(args, "heads", None))
    given["--colbert-dim"] = (recorded.get("colbert_dim"), getattr(args, "colbert_dim", None))
    calibration = getattr(args, "int8_calibration", None)
    if calibration is not None and recorded.get("backend") != "onnx-int8":
        raise ConfigurationError(f"the index at {where} was built with the {recorded.get('backend', 'torch')} backend: "
                                 "--int8-calibration applies to an onnx-int8 index only")
    from ..encode.backends.onnx_smoothquant import recorded_calibration

    int8 = recorded_calibration(str(recorded.get("weights", "")))
    given["--int8-calibration"] = (int8, calibration)
    for flag, (kept, asked) in given.items():
        if asked is not None and asked != kept:
            raise ConfigurationError(f"the index at {where} was built with {flag} {kept!r}, not {asked!r}: an existing "
                                     "index keeps its model's settings (leave the option out, or build a new index)")


def quiet_loading() -> None:
    """No progress bars from huggingface_hub or transformers while a model loads."""
    import os

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # the model extra is missing: loading will say so
        return
    hf_logging.disable_progress_bar()


#: What runs a cross-encoder (``--rerank``, ``--teacher``): torch, or ONNX Runtime float32 / int8.
RERANK_BACKENDS = ("torch", "onnx", "onnx-int8")


def add_rerank_backend_arg(parser: argparse.ArgumentParser | Any) -> None:
    parser.add_argument("--rerank-backend", choices=RERANK_BACKENDS, default="torch",
                        help="what runs the cross-encoder: torch (default), onnx or onnx-int8 (exported once, cached)")


def load_cross_encoder(name: str, args: argparse.Namespace) -> Any:
    """The cross-encoder ``name`` on the backend and device the options give."""
    from ..rerank import CrossEncoder

    return CrossEncoder.load(name, backend=getattr(args, "rerank_backend", "torch"), device=getattr(args, "device", None))
