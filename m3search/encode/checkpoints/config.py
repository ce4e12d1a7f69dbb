"""Encoder settings and checkpoint layouts (no torch).

Three layouts are recognised, in this order:

1. ``m3search``: m3search's own saved format, an ``m3search.json`` beside HF weights (and the
   head files when the model has them). Round-trips exactly.
2. ``bge-m3``: HF XLM-RoBERTa weights with ``colbert_linear.pt`` and ``sparse_linear.pt`` beside
   them; CLS pooling, no prefixes.
3. ``hf``: any plain HF encoder. Pooling comes from a sentence-transformers
   ``1_Pooling/config.json`` when there is one, else CLS; dense output only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from ...errors import ConfigurationError

CONFIG_FILE = "m3search.json"
COLBERT_FILE = "colbert_linear.pt"
SPARSE_FILE = "sparse_linear.pt"
#: An optional weight per token id multiplying the sparse head's weights (m3search's own).
SPARSE_PRIOR_FILE = "sparse_prior.pt"
FORMAT_VERSION = 1

Pooling = Literal["cls", "mean"]
LongStrategy = Literal["truncate", "mcls", "windows"]
LONG_STRATEGIES = ("truncate", "mcls", "windows")
#: Settings added after indexes existed: left out of the fingerprint at their defaults, so that
#: an index built before them still matches an encoder that does not use them.
LONG_DEFAULTS: dict[str, Any] = {"long_strategy": "truncate", "mcls_interval": 256, "window_size": None,
                                 "window_stride": None, "window_dense": "mean"}
#: Every setting added after indexes existed, at its default (left out of the fingerprint).
LATER_DEFAULTS: dict[str, Any] = {**LONG_DEFAULTS, "colbert_dim": None}
WINDOW_DENSE = ("mean", "best")
Layout = Literal["m3search", "bge-m3", "hf"]


@dataclass(frozen=True)
class EncoderConfig:
    """How a checkpoint turns text into embeddings.

    ``max_length`` is the default truncation length (``None``: the model's position limit).
    ``long_strategy`` says what happens to a longer text (see :mod:`m3search.encode.long`):
    ``truncate`` it, ``mcls`` (a CLS token every ``mcls_interval`` tokens, dense = the mean of
    their states; CLS-pooled models with long positions), or ``windows`` of ``window_size``
    tokens (default: ``max_length``) every ``window_stride`` tokens, merged into one embedding.
    ``window_dense`` is how windows score a document densely: ``mean`` (one vector, the windows'
    length-weighted mean) or ``best`` (every window's vector kept; an index scores the document
    by its best window).
    """

    name: str = "encoder"
    pooling: Pooling = "cls"
    normalize: bool = True
    query_prefix: str = ""
    document_prefix: str = ""
    max_length: int | None = None
    long_strategy: LongStrategy = "truncate"
    mcls_interval: int = 256
    window_size: int | None = None
    window_stride: int | None = None
    window_dense: str = "mean"
    #: Width of the multi-vector rows: the first ``colbert_dim`` outputs of a nested (compact) head,
    #: renormalised; ``None``: the head's full width. Only widths the head was trained for.
    colbert_dim: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pooling not in ("cls", "mean"):
            raise ConfigurationError(f"pooling must be 'cls' or 'mean', got {self.pooling!r}")
        if self.max_length is not None and self.max_length < 2:
            raise ConfigurationError(f"max_length must be at least 2 (room for the special tokens), got {self.max_length}")
        if self.long_strategy not in LONG_STRATEGIES:
            raise ConfigurationError(f"long_strategy must be one of {LONG_STRATEGIES}, got {self.long_strategy!r}")
        if self.mcls_interval < 2:
            raise ConfigurationError(f"mcls_interval must be at least 2 tokens, got {self.mcls_interval}")
        if self.long_strategy == "mcls" and self.pooling != "cls":
            raise ConfigurationError("long_strategy 'mcls' averages CLS states: it needs a CLS-pooled model, "
                                     f"not pooling {self.pooling!r} (use 'windows')")
        if self.window_size is not None and self.window_size < 8:
            raise ConfigurationError(f"window_size must be at least 8 tokens, got {self.window_size}")
        if self.window_stride is not None and self.window_stride < 1:
            raise ConfigurationError(f"window_stride must be at least 1 token, got {self.window_stride}")
        if self.window_dense not in WINDOW_DENSE:
            raise ConfigurationError(f"window_dense must be one of {WINDOW_DENSE}, got {self.window_dense!r}")
        if self.colbert_dim is not None and (isinstance(self.colbert_dim, bool) or not isinstance(self.colbert_dim, int)
                                             or self.colbert_dim < 1):
            raise ConfigurationError(f"colbert_dim must be a positive integer, got {self.colbert_dim!r}")
        if self.window_dense != "mean" and self.long_strategy != "windows":
            raise ConfigurationError(f"window_dense {self.window_dense!r} needs long_strategy 'windows', "
                                     f"not {self.long_strategy!r}")

    def long_settings(self) -> dict[str, Any]:
        """The long-input settings that differ from their defaults (what an index must record)."""
        return {k: getattr(self, k) for k, default in LONG_DEFAULTS.items() if getattr(self, k) != default}

    def with_overrides(self, **overrides: Any) -> EncoderConfig:
        """A copy with the given non-``None`` settings replaced."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigurationError(f"unknown encoder setting(s) {sorted(unknown)}; known: {sorted(known)}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_json(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "m3search.json") -> EncoderConfig:
        version = data.get("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ConfigurationError(
                f"{source} has format_version {version}, newer than this m3search reads ({FORMAT_VERSION}): upgrade m3search"
            )
        known = {f.name for f in fields(cls)}
        settings = {k: v for k, v in data.items() if k in known}
        settings["extra"] = {**data.get("extra", {}), **{k: v for k, v in data.items() if k not in known | {"format_version"}}}
        return cls(**settings)

    def fingerprint(self) -> str:
        """A short stable hash of the settings that change outputs (not the name)."""
        settings = {k: v for k, v in asdict(self).items()
                    if k not in ("extra", "name") and not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])}
        payload = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def detect_layout(path: Path) -> Layout:
    """Which of the three layouts a local checkpoint directory uses."""
    if (path / CONFIG_FILE).is_file():
        return "m3search"
    if (path / COLBERT_FILE).is_file() and (path / SPARSE_FILE).is_file():
        return "bge-m3"
    return "hf"


def default_config(path: Path, layout: Layout) -> EncoderConfig:
    """The settings a checkpoint directory implies before any user override."""
    name = path.name
    if layout == "m3search":
        return EncoderConfig.from_json(json.loads((path / CONFIG_FILE).read_text()), str(path / CONFIG_FILE))
    if layout == "bge-m3":
        return EncoderConfig(name=name, pooling="cls")
    return EncoderConfig(name=name, pooling=_sentence_transformers_pooling(path) or "cls")


def _sentence_transformers_pooling(path: Path) -> Pooling | None:
    pooling_file = path / "1_Pooling" / "config.json"
    if not pooling_file.is_file():
        return None
    settings = json.loads(pooling_file.read_text())
    if settings.get("pooling_mode_mean_tokens"):
        return "mean"
    if settings.get("pooling_mode_cls_token"):
        return "cls"
    return None


def head_widths(full: int | None, extra: dict[str, Any]) -> tuple[int, ...]:
    """The widths a multi-vector head of width ``full`` offers: with the nested widths a compact head
    records (``extra["colbert_dims"]``), those; else ``full`` alone.

    >>> head_widths(128, {"colbert_dims": [128, 64, 32]}), head_widths(384, {}), head_widths(None, {})
    ((128, 64, 32), (384,), ())
    """
    if full is None:
        return ()
    nested = {int(d) for d in extra.get("colbert_dims") or () if int(d) <= full}
    return tuple(sorted({full, *nested}, reverse=True))


def check_colbert_width(width: int | None, offered: tuple[int, ...]) -> None:
    """Refuse a ``colbert_dim`` the head does not offer, naming the widths it does."""
    if width is None:
        return
    if not offered:
        raise ConfigurationError(f"colbert_dim {width} asks for multi-vectors of a model without a multi-vector head")
    if width not in offered:
        raise ConfigurationError(f"colbert_dim {width} is not a width this multi-vector head offers: {list(offered)} "
                                 "(a compact head trained with --compact-colbert offers its nested widths)")
