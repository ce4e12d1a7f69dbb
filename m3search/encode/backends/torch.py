"""The torch backend: a Hugging Face transformer with the M3 sparse and multi-vector heads.

:class:`M3Network` is the ``nn.Module``; its ``forward`` keeps gradients, so the training code
uses it as it is. :class:`TorchBackend` wraps it for inference: it runs a padded batch under
``torch.inference_mode`` and returns numpy arrays (see :mod:`.base`). For a batch of ``B``
texts of length ``L`` and hidden size ``h``:

- ``hidden``: ``(B, L, h)`` last hidden states;
- ``sparse``: ``relu(sparse_linear(H))`` -> ``(B, L)`` (never ``(B, L, vocab)``), times
  ``sparse_prior[token id]`` when the checkpoint has a prior (``sparse_prior.pt``: one weight per
  vocabulary entry, e.g. an IDF; see :mod:`m3search.encode.sparse_prior`);
- ``colbert``: ``colbert_linear(H)`` -> ``(B, L, d_c)``, every position, un-normalised.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from ...errors import CheckpointError, ConfigurationError
from ..checkpoints.config import COLBERT_FILE, SPARSE_FILE, SPARSE_PRIOR_FILE
from .base import ForwardOutput, TokenBatch

#: Model types whose position ids start after the padding index (RoBERTa family).
_ROBERTA_LIKE = ("xlm-roberta", "roberta", "camembert", "xlm-roberta-xl")
#: Elements sampled per tensor for the weights fingerprint (all of them for small tensors).
_FINGERPRINT_SAMPLES = 4096


class M3Network(nn.Module):
    """A transformer backbone plus optional heads (``None`` when absent).

    ``sparse_prior`` (a buffer, ``(vocab,)``) multiplies each token's sparse weight by a weight
    of its token id; ``None`` (the default, and BGE-M3's head) multiplies by one.
    """

    sparse_prior: torch.Tensor | None

    def __init__(self, backbone: nn.Module, colbert_linear: nn.Linear | None = None,
                 sparse_linear: nn.Linear | None = None, sparse_prior: torch.Tensor | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.colbert_linear = colbert_linear
        self.sparse_linear = sparse_linear
        self.register_buffer("sparse_prior", None)
        self.set_sparse_prior(sparse_prior)

    def set_sparse_prior(self, prior: torch.Tensor | None) -> None:
        """Install (or with ``None`` remove) the per-token-id prior of the sparse head."""
        if prior is not None:
            vocab = int(getattr(self.backbone_config, "vocab_size", 0) or 0)
            if prior.ndim != 1 or (vocab and prior.numel() < vocab):
                raise CheckpointError(f"a sparse prior holds one weight per token id: got shape {tuple(prior.shape)} "
                                      f"for a vocabulary of {vocab}")
            prior = prior.detach().float()
        self.sparse_prior = prior

    def token_weights(self, hidden: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """The sparse head: ``relu(sparse_linear(hidden))``, times the prior of each token id."""
        if self.sparse_linear is None:
            raise ConfigurationError("this network has no sparse head")
        weights = torch.relu(self.sparse_linear(hidden)).squeeze(-1)
        if self.sparse_prior is not None:
            weights = weights * self.sparse_prior[input_ids].to(weights.dtype)  # index, then cast: the table stays float32
        return weights

    @property
    def backbone_config(self) -> Any:
        """The Hugging Face config of the backbone."""
        return getattr(self.backbone, "config")  # noqa: B009 - nn.Module's __getattr__ hides the type

    @property
    def hidden_size(self) -> int:
        return int(self.backbone_config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                parts: tuple[str, ...] = ("dense",)) -> dict[str, torch.Tensor]:
        """``{"hidden": (B,L,h), "sparse": (B,L), "colbert": (B,L,d_c)}`` for the parts asked."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        out: dict[str, torch.Tensor] = {}
        if "dense" in parts:
            out["hidden"] = hidden
        if "sparse" in parts:
            out["sparse"] = self.token_weights(hidden, input_ids)
        if "colbert" in parts:
            if self.colbert_linear is None:
                raise ConfigurationError("this network has no multi-vector head")
            out["colbert"] = self.colbert_linear(hidden)
        return out


class TorchBackend:
    """Runs :class:`M3Network` on CPU or GPU for the encoder pipeline."""

    kind = "torch"

    def __init__(self, network: M3Network, *, device: str | torch.device | None = None) -> None:
        self.network = network.eval()
        self._backbone_fingerprint: str | None = None
        self.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))

    @classmethod
    def load(cls, path: Path, *, device: str | None = None, dtype: torch.dtype | None = None) -> TorchBackend:
        """The HF weights in ``path`` and the head files beside them, when present.

        ``dtype``: the network is cast after loading, except when the checkpoint stores its
        weights in that very dtype (one saved from a model loaded with it): then they are read
        as they are, without a float32 copy first, which is what keeps a bfloat16 BGE-M3 under
        2 GB while it loads (the weights' fingerprint is the same either way: bfloat16 values
        read as float32 are exact)."""
        stored = dtype is not None and stored_dtype(path) == dtype
        network = load_network(path, dtype=dtype if stored else None)
        backend = cls(network, device="cpu")
        backend._backbone_fingerprint = _fingerprint(network.backbone)  # of the weights as stored (read as float32)
        if dtype is not None:
            network.to(dtype)  # the heads (and anything stored otherwise); a no-op on weights already in dtype
            network.set_sparse_prior(network.sparse_prior)  # the prior is a lookup table: it stays float32
        return backend.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))

    def to(self, device: str | torch.device) -> TorchBackend:
        self.network.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    # ------------------------------------------------------------------ description
    @property
    def hidden_size(self) -> int:
        return self.network.hidden_size

    @property
    def colbert_dim(self) -> int | None:
        head = self.network.colbert_linear
        return None if head is None else int(head.out_features)

    @property
    def heads(self) -> tuple[str, ...]:
        present = {"sparse": self.network.sparse_linear, "colbert": self.network.colbert_linear}
        return tuple(name for name, head in present.items() if head is not None)

    @property
    def max_positions(self) -> int:
        cfg = self.network.backbone_config
        positions = int(cfg.max_position_embeddings)
        if getattr(cfg, "model_type", "") in _ROBERTA_LIKE:
            positions -= int(cfg.pad_token_id) + 1  # RoBERTa position ids start after the padding index
        return positions

    def architecture(self) -> dict[str, Any]:
        cfg = self.network.backbone_config
        return {
            "model_type": str(getattr(cfg, "model_type", "")),
            "layers": int(getattr(cfg, "num_hidden_layers", 0)),
            "hidden_size": self.hidden_size,
            "vocab_size": int(getattr(cfg, "vocab_size", 0)),
            "max_positions": self.max_positions,
        }

    def weights_fingerprint(self) -> str:
        """sha256 over every tensor's name, shape and up to 4096 evenly spaced float32 values.

        A fine-tuned or different model changes nearly every weight, so the sample tells it
        apart; the same weights read from any path, copied or re-saved, give the same hash.
        """
        if self._backbone_fingerprint is None:
            self._backbone_fingerprint = _fingerprint(self.network.backbone)
        digest = hashlib.sha256(self._backbone_fingerprint.encode())
        for name in ("colbert_linear", "sparse_linear"):
            head = getattr(self.network, name)
            if head is not None:
                digest.update(_fingerprint(head, prefix=name).encode())
        if self.network.sparse_prior is not None:
            digest.update(b"sparse_prior" + self.network.sparse_prior.float().cpu().numpy().tobytes())
        return digest.hexdigest()[:16]

    def weights_changed(self) -> None:
        """Forget the cached fingerprint after the weights were trained in place."""
        self._backbone_fingerprint = None

    # ------------------------------------------------------------------ heads
    def set_heads(self, colbert: nn.Linear | None, sparse: nn.Linear | None) -> None:
        """Replace both heads (``None`` removes them); a sparse prior goes with the old sparse head."""
        self.network.colbert_linear = None if colbert is None else colbert.to(self.device)
        self.network.sparse_linear = None if sparse is None else sparse.to(self.device)
        self.network.set_sparse_prior(None)

    def make_heads(self, init: str, *, colbert_dim: int | None, seed: int) -> tuple[nn.Linear, nn.Linear]:
        """Untrained heads: ``random`` (``nn.Linear`` defaults, seeded) or ``baseline``
        (identity multi-vector, every token weighted 0.1), on CPU in float32."""
        hidden = self.hidden_size
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            colbert = nn.Linear(hidden, colbert_dim or hidden)
            sparse = nn.Linear(hidden, 1)
        finally:
            torch.random.set_rng_state(state)
        if init == "baseline":
            if colbert.out_features != hidden:
                raise ConfigurationError("baseline multi-vector heads keep the hidden size: leave colbert_dim unset")
            with torch.no_grad():
                colbert.weight.copy_(torch.eye(hidden))
                colbert.bias.zero_()
                sparse.weight.zero_()
                sparse.bias.fill_(0.1)
        dtype = next(self.network.parameters()).dtype
        return colbert.to(dtype), sparse.to(dtype)

    # ------------------------------------------------------------------ running
    def forward(self, batch: TokenBatch, parts: tuple[str, ...]) -> ForwardOutput:
        ids = torch.from_numpy(batch.input_ids).to(self.device)
        mask = torch.from_numpy(batch.attention_mask).to(self.device)
        with torch.inference_mode():
            out = self.network(ids, mask, parts=parts)
            arrays = {name: value.float().cpu().numpy() for name, value in out.items()}
        return ForwardOutput(**arrays)

    def save(self, directory: Path) -> None:
        cast(Any, self.network.backbone).save_pretrained(str(directory), safe_serialization=True)
        for head, filename in ((self.network.colbert_linear, COLBERT_FILE), (self.network.sparse_linear, SPARSE_FILE)):
            if head is not None:
                torch.save({k: v.detach().float().cpu() for k, v in head.state_dict().items()}, directory / filename)
            elif (directory / filename).exists():
                (directory / filename).unlink()
        prior = self.network.sparse_prior if self.network.sparse_linear is not None else None
        if prior is not None:
            torch.save(prior.detach().float().cpu(), directory / SPARSE_PRIOR_FILE)
        elif (directory / SPARSE_PRIOR_FILE).exists():
            (directory / SPARSE_PRIOR_FILE).unlink()


def load_network(path: Path, *, dropout: float | None = None, dtype: torch.dtype | None = None) -> M3Network:
    """The float32 :class:`M3Network` of a checkpoint directory (heads when their files exist);
    ``dtype`` reads the backbone's weights in that dtype instead (the heads stay float32).

    ``dropout`` overrides the backbone's hidden and attention dropout (0 makes training
    deterministic, as the parity tests need).
    """
    from transformers import AutoModel

    overrides: dict[str, Any] = {}
    if dropout is not None:
        overrides = {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    try:
        backbone = AutoModel.from_pretrained(str(path), add_pooling_layer=False, dtype=dtype or torch.float32,
                                             **overrides)
    except Exception as exc:  # safetensors' Rust reader raises its own error type on a damaged file
        if not isinstance(exc, (OSError, ValueError)) and type(exc).__name__ != "SafetensorError":
            raise
        raise CheckpointError(f"cannot read the checkpoint in {path}: {exc}") from exc
    sparse = _load_head(path / SPARSE_FILE)
    prior = _load_prior(path / SPARSE_PRIOR_FILE) if sparse is not None else None
    return M3Network(backbone, _load_head(path / COLBERT_FILE), sparse, prior)


def stored_dtype(path: Path) -> torch.dtype | None:
    """The one floating-point dtype of every tensor in the checkpoint's ``model.safetensors``
    (read from its header by ``safetensors``), else ``None`` (sharded or other formats, mixed
    dtypes, unreadable).

    >>> stored_dtype(Path("tests/fixtures/tiny-m3"))
    torch.float32
    """
    from safetensors import SafetensorError, safe_open

    dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
    try:
        with safe_open(str(path / "model.safetensors"), framework="pt") as weights:
            found = {weights.get_slice(name).get_dtype() for name in weights.keys()}  # noqa: SIM118 - not a dict
    except (OSError, ValueError, SafetensorError):  # missing, or not a safetensors file
        return None
    found -= {"I64", "I32", "I16", "I8", "U8", "BOOL"}  # buffers such as position ids are not weights
    return dtypes.get(found.pop()) if len(found) == 1 else None


def _fingerprint(module: nn.Module, prefix: str = "") -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().reshape(-1)
        step = max(1, flat.numel() // _FINGERPRINT_SAMPLES)
        sample = flat[::step][:_FINGERPRINT_SAMPLES].float().cpu().numpy().astype(np.float32)
        digest.update(f"{prefix}{name}{tuple(tensor.shape)}".encode())
        digest.update(sample.tobytes())
    return digest.hexdigest()


def _load_head(path: Path) -> nn.Linear | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        out_features, in_features = state["weight"].shape
        head = nn.Linear(in_features, out_features)
        head.load_state_dict({k: v.float() for k, v in state.items()})
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"cannot read head {path}: {exc}") from exc
    return head


def _load_prior(path: Path) -> torch.Tensor | None:
    if not path.is_file():
        return None
    try:
        prior = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"cannot read the sparse prior {path}: {exc}") from exc
    if not isinstance(prior, torch.Tensor):
        raise CheckpointError(f"cannot read the sparse prior {path}: it holds {type(prior).__name__}, not a tensor")
    return prior.float()
