"""Training settings: one dataclass, read from YAML and overridden by command-line flags (no torch)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..encode.checkpoints.hub import DEFAULT_MODEL
from ..errors import ConfigurationError
from .losses import KD_LOSS_TYPES


@dataclass
class TrainConfig:
    """Every option of ``m3search train`` (the YAML keys and the flags have these names).

    Defaults follow the reference's example scripts where they fit a CPU: temperature 0.02,
    self-distillation from step 0, ``m3_kd_loss``, warm-up 10%, weight decay 0.01.
    """

    train_data: list[str] = field(default_factory=list)
    output_dir: str = "m3search-trained"
    model: str = DEFAULT_MODEL
    #: Starting heads: "model" (the checkpoint's own, else seeded random), "random" or "baseline"
    #: (replacing the checkpoint's), or "none" (dense-only training).
    init_heads: str = "model"
    colbert_dim: int | None = None
    #: Train a compact multi-vector head instead (see ``compact.py``): its nested widths, e.g.
    #: [128, 64, 32]; the encoder and the model's own heads stay frozen and are the teacher.
    compact_colbert: list[int] | None = None
    #: Multiply the sparse head's weights by ``(idf / mean idf) ** alpha`` with this ``alpha``, the
    #: idf counted over the training passages (see ``encode/sparse_prior.py``); saved with the heads.
    sparse_idf_prior: float | None = None
    #: Sources (name prefixes, e.g. ``sib200``) whose batches give the sparse head no gradient:
    #: cross-lingual pairs, where lexical matching cannot help. Batches must be one source each.
    sparse_skip_sources: list[str] | None = field(default=None, metadata={"metavar": "PREFIX"})
    #: Sampling weights per source (``PREFIX=WEIGHT`` entries, e.g. ``sib200=2``): each epoch draws
    #: the groups of a source whose name starts with PREFIX WEIGHT times (a fraction draws that
    #: share of them once more; 0 leaves them out); other sources once. See ``collate.copies``.
    source_weights: list[str] | None = field(default=None, metadata={"metavar": "PREFIX=WEIGHT"})
    freeze_encoder: bool = False
    #: With a frozen encoder, compute each unique text's token states once (see ``cache.py``).
    cache_states: bool = True
    cache_dir: str | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 8
    group_size: int = 8
    query_max_len: int = 64
    passage_max_len: int = 256
    learning_rate: float = 1e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    temperature: float = 0.02
    unified: bool = True
    self_distill: bool = True
    self_distill_start_step: int = -1
    knowledge_distillation: bool = False
    kd_loss_type: str = "m3_kd_loss"
    sub_batch_size: int | None = None
    same_source: bool = False
    bucket_edges: list[int] = field(default_factory=lambda: [0, 500, 1000, 2000, 3000, 4000, 5000, 6000, 7000])
    seed: int = 0
    save_steps: int | None = None
    logging_steps: int = 10
    #: None: bf16 autocast on GPU, float32 on CPU.
    bf16: bool | None = None
    dropout: float | None = None
    device: str | None = None
    plot: bool = True
    show_progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.train_data, str):
            self.train_data = [self.train_data]
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name), str(f.type))
        checks = [
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.group_size >= 1, "group_size must be >= 1"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (self.epochs > 0 or self.max_steps is not None, "epochs must be > 0"),
            (self.temperature > 0, "temperature must be > 0"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
            (self.kd_loss_type in KD_LOSS_TYPES, f"kd_loss_type must be one of {KD_LOSS_TYPES}"),
            (self.init_heads in ("model", "random", "baseline", "none"), "init_heads must be model, random, baseline or none"),
            (self.sub_batch_size is None or self.sub_batch_size >= 1, "sub_batch_size must be >= 1"),
            (self.max_steps is None or self.max_steps >= 1, "max_steps must be >= 1"),
            (self.sparse_idf_prior is None or self.sparse_idf_prior > 0, "sparse_idf_prior must be > 0"),
            (self.sparse_idf_prior is None or (self.unified and self.init_heads != "none"),
             "sparse_idf_prior weighs the sparse head: it needs unified training with heads"),
            (not self.sparse_skip_sources or self.same_source,
             "sparse_skip_sources switches the sparse loss per batch: it needs same_source"),
            (self.sparse_idf_prior is None or not self.compact_colbert,
             "sparse_idf_prior trains a sparse head; compact_colbert keeps the model's own"),
            (not self.compact_colbert or (self.freeze_encoder and self.cache_states),
             "compact_colbert trains on cached token states: it needs freeze_encoder and cache_states"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigurationError(f"{message} (train config)")
        self.source_weight_map()

    def source_weight_map(self) -> dict[str, float]:
        """``source_weights`` as a mapping, each entry checked.

        >>> TrainConfig(source_weights=["sib200=2", " jsquad = 0.5"]).source_weight_map()
        {'sib200': 2.0, 'jsquad': 0.5}
        >>> TrainConfig(source_weights=["sib200"])
        Traceback (most recent call last):
        ...
        m3search.errors.ConfigurationError: source_weights entry 'sib200' must be PREFIX=WEIGHT with a WEIGHT >= 0 (train config)
        """
        weights: dict[str, float] = {}
        for entry in self.source_weights or ():
            prefix, _, text = (part.strip() for part in entry.partition("="))
            try:
                weight = float(text)
            except ValueError:
                weight = -1.0
            if not prefix or not math.isfinite(weight) or weight < 0:
                raise ConfigurationError(
                    f"source_weights entry {entry!r} must be PREFIX=WEIGHT with a WEIGHT >= 0 (train config)")
            if prefix in weights:
                raise ConfigurationError(f"source_weights names {prefix!r} twice (train config)")
            weights[prefix] = weight
        return weights

    def source_weights_of(self, sources: list[str | None]) -> list[float]:
        """Each group's sampling weight: its source's longest matching prefix's, else 1; a prefix
        that matches no source is refused (a typo would otherwise do nothing).

        >>> TrainConfig(source_weights=["sib=0.5", "sib200=2"]).source_weights_of(["sib200-train", "sibx", "qa"])
        [2.0, 0.5, 1.0]
        """
        weights = self.source_weight_map()
        matched: set[str] = set()
        out = []
        for source in sources:
            prefixes = [p for p in weights if (source or "").startswith(p)]
            best = max(prefixes, key=len) if prefixes else None
            if best is not None:
                matched.add(best)
            out.append(weights[best] if best is not None else 1.0)
        unmatched = sorted(set(weights) - matched)
        if unmatched:
            known = sorted({s or "" for s in sources})
            raise ConfigurationError(f"source_weights prefix(es) {unmatched} match no training group's source; "
                                     f"the sources are {known[:20]} (train config)")
        return out

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> TrainConfig:
        """Settings from a YAML (or JSON) file, then ``overrides`` that are not ``None``."""
        data: dict[str, Any] = {}
        if path is not None:
            data = _read_mapping(Path(path))
            if not isinstance(data, dict):
                raise ConfigurationError(f"{path}: a training config is a mapping of option: value")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(f"{path}: unknown option(s) {unknown}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: What each annotation accepts (an int is a float; a bool is not an int).
_SCALARS: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _check_type(name: str, value: Any, annotation: str) -> None:
    """Refuse a value of the wrong type naming the option (YAML gives strings, lists, numbers)."""
    kinds = [k.strip() for k in annotation.split("|")]
    if value is None and "None" in kinds:
        return
    for kind in kinds:
        if kind.startswith("list["):
            item = _SCALARS[kind[5:-1]]
            if isinstance(value, list) and all(isinstance(v, item) and not _bool_as_number(v, item) for v in value):
                return
        elif kind in _SCALARS and isinstance(value, _SCALARS[kind]) and not _bool_as_number(value, _SCALARS[kind]):
            return
    raise ConfigurationError(f"train option {name} must be {annotation}, got {value!r}")


def _bool_as_number(value: Any, accepted: tuple[type, ...]) -> bool:
    return isinstance(value, bool) and bool not in accepted


def _read_mapping(path: Path) -> Any:
    """A YAML (or, without PyYAML, JSON) file, with errors that name it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the training config {path}: {exc}") from exc
    try:
        import yaml
    except ImportError:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{path}: not valid JSON ({exc}); install pyyaml for YAML configs") from exc
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from exc
