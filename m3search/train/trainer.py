"""The training loop: AdamW with linear warm-up and decay, gradient clipping, bf16 autocast on
GPU, checkpoints in the BGE-M3 layout (also readable by FlagEmbedding), resume, a progress bar,
per-head losses logged to JSONL and drawn as a PNG at the end.

Run it as ``m3search train --config train.yaml``; under ``torchrun --nproc_per_node N`` each
process takes ``batch_size`` queries of every global batch, negatives are gathered across
processes (:mod:`.distributed`), and gradients are summed, so that N processes train as one
process on the combined batch would.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..encode import Encoder
from ..encode.checkpoints.cache import cache_dir
from ..encode.sparse_prior import idf_prior
from ..errors import ConfigurationError
from ..io.atomic import atomic_write_text
from ..progress import progress_bar
from . import distributed
from .collate import Collator, plan_batches
from .compact import CompactColbert, check_dims, compact_loss
from .groups import TrainGroup, draw_example, read_groups
from .losses import LossOutput
from .step import TrainBatch, compute_loss
from .train_config import TrainConfig
from .trainable import M3Trainable

log = logging.getLogger(__name__)
STATE_FILE = "trainer_state.pt"
LOG_FILE = "train_log.jsonl"


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _init_distributed() -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def _latest_checkpoint(output: Path) -> Path | None:
    found = sorted(output.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    found = [p for p in found if (p / STATE_FILE).is_file()]
    return found[-1] if found else None


class Trainer:
    """Fine-tune an encoder on training groups (see :class:`~.config.TrainConfig`)."""

    def __init__(self, config: TrainConfig) -> None:
        if not config.train_data:
            raise ConfigurationError("no training data: give train_data (JSONL files of training groups)")
        self.config = config
        self.output = Path(config.output_dir)
        _init_distributed()
        self.rank, self.world = distributed.rank(), distributed.world_size()
        device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device.startswith("cuda") and self.world > 1:
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        self.device = torch.device(device)
        _seed_everything(config.seed)
        resume = _latest_checkpoint(self.output)
        self.encoder = Encoder.load(resume or config.model, device="cpu")
        if resume is None and config.unified and config.init_heads in ("random", "baseline"):
            self.encoder.add_heads(init=config.init_heads, colbert_dim=config.colbert_dim, seed=config.seed, replace=True)
        elif config.unified and self.encoder.heads == "none" and config.init_heads == "model":
            self.encoder.add_heads(init="random", colbert_dim=config.colbert_dim, seed=config.seed)
        if config.dropout is not None:
            for module in self.encoder.backend.network.modules():  # type: ignore[attr-defined]
                if isinstance(module, torch.nn.Dropout):
                    module.p = config.dropout
        network = self.encoder.backend.network  # type: ignore[attr-defined]
        if not config.unified or config.init_heads == "none":
            network.sparse_linear = network.colbert_linear = None
            network.set_sparse_prior(None)
        self.model = M3Trainable(
            network, pooling=self.encoder.config.pooling, normalize=self.encoder.config.normalize,
            special_ids=self.encoder.tokenizer.special_ids.tolist(), vocab_size=len(self.encoder.tokenizer),
            freeze_encoder=config.freeze_encoder,
        ).to(self.device)
        self.groups: list[TrainGroup] = [g for path in config.train_data for g in read_groups(path)]
        self.cache = self._build_cache() if config.freeze_encoder and config.cache_states else None
        if config.sparse_idf_prior is not None:
            network.set_sparse_prior(self._idf_prior(config.sparse_idf_prior).to(self.device))
        self.collate = Collator(self.encoder, query_max_len=config.query_max_len,
                                passage_max_len=config.passage_max_len, cache=self.cache)
        self.compact = self._compact_head() if config.compact_colbert else None
        self.lengths = self._group_lengths()
        self.steps_per_epoch = self._epoch_length()
        total = config.max_steps or math.ceil(config.epochs * self.steps_per_epoch)
        self.total_steps = max(1, total)
        trained = self.compact or self.model
        decay = [p for n, p in trained.named_parameters() if p.requires_grad and not n.endswith("bias")
                 and "LayerNorm" not in n]
        no_decay = [p for n, p in trained.named_parameters() if p.requires_grad and (n.endswith("bias")
                    or "LayerNorm" in n)]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=config.learning_rate)
        warmup, total = int(config.warmup_ratio * self.total_steps), self.total_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: (
            (step + 1) / max(1, warmup) if step < warmup else max(0.0, (total - step) / max(1, total - warmup))))
        self.step = 0
        if resume is not None:
            self._load_state(resume)
        self.autocast = bool(config.bf16 if config.bf16 is not None else self.device.type == "cuda")

    # ------------------------------------------------------------------ data
    def _group_lengths(self) -> list[int]:
        if self.cache is not None:
            return [max([len(self.cache.token_ids(g.query, "query"))]
                        + [len(self.cache.token_ids(t, "document")) for t in (*g.pos, *g.neg)]) for g in self.groups]
        # token counts without truncation, as the reference's buckets; each unique text once
        texts = sorted({t for g in self.groups for t in (g.query, *g.pos, *g.neg)})
        count = dict(zip(texts, (len(ids) for ids in self.encoder.tokenizer.encode(texts, max_length=None))))
        return [max(count[t] for t in (g.query, *g.pos, *g.neg)) for g in self.groups]

    def _idf_prior(self, alpha: float) -> torch.Tensor:
        """The sparse head's prior over the unique passages of the training data (as truncated)."""
        passages = sorted({t for g in self.groups for t in (*g.pos, *g.neg)})
        if self.cache is not None:
            ids: Any = (self.cache.token_ids(t, "document") for t in passages)
        else:
            ids = self.encoder.tokenizer.encode(passages, max_length=self.config.passage_max_len)
        network = self.encoder.backend.network  # type: ignore[attr-defined]
        vocab = max(len(self.encoder.tokenizer), int(getattr(network.backbone_config, "vocab_size", 0) or 0))
        return torch.from_numpy(idf_prior(ids, vocab, alpha))

    def _build_cache(self) -> Any:
        from .state_cache import StateCache

        documents = sorted({t for g in self.groups for t in (*g.pos, *g.neg)})
        queries = sorted({g.query for g in self.groups})
        directory = Path(self.config.cache_dir) if self.config.cache_dir else cache_dir() / "train-states"
        return StateCache.build(self.encoder, {"query": queries, "document": documents}, directory,
                                max_length={"query": self.config.query_max_len, "document": self.config.passage_max_len},
                                show_progress=self.config.show_progress and self.rank == 0)

    def _epoch_length(self) -> int:
        """Batches per epoch (the sampling weights read once, the first epoch's plan made)."""
        config = self.config
        self._source_weights = config.source_weights_of([g.source for g in self.groups]) if config.source_weights else None
        self._planned: tuple[int, list[list[int]]] | None = None
        steps = len(self._plan(0))
        if not steps:
            cause = f"source_weights {config.source_weights} leave none" if config.source_weights else "no full batch"
            raise ConfigurationError(f"no training batches to draw: {cause}")
        return steps

    def _compact_head(self) -> CompactColbert:
        """The compact multi-vector head to train, started from the full head's principal
        directions; everything else is frozen and is its teacher (see ``compact.py``)."""
        colbert = self.model.network.colbert_linear
        if colbert is None or self.cache is None:
            raise ConfigurationError("compact_colbert distils the model's own multi-vector head: this model has none")
        dims = check_dims(self.config.compact_colbert or [], colbert.out_features)
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        sample = self.cache.sample_states(8192, seed=self.config.seed).to(self.device)
        return CompactColbert.from_principal_directions(colbert, sample, dims).to(self.device)

    def _loss(self, batch: TrainBatch, self_distill: bool, source: str | None = None) -> LossOutput:
        config = self.config
        if self.compact is not None:
            return compact_loss(self.model, self.compact, batch, temperature=config.temperature)
        skip = any((source or "").startswith(prefix) for prefix in config.sparse_skip_sources or ())
        return compute_loss(self.model, batch, temperature=config.temperature, kd_loss_type=config.kd_loss_type,
                            self_distill=self_distill, sub_batch_size=config.sub_batch_size, train_sparse=not skip)

    def _install_compact_head(self) -> None:
        """The trained compact head becomes the model's multi-vector head; its nested widths are recorded."""
        assert self.compact is not None
        self.model.network.colbert_linear = self.compact.linear.to("cpu")
        extra = {**self.encoder.config.extra, "colbert_dims": list(self.compact.dims)}
        self.encoder.config = self.encoder.config.with_overrides(extra=extra)

    def _plan(self, epoch: int) -> list[list[int]]:
        """The batches of one epoch (deterministic in the seed and epoch; computed once per epoch)."""
        if self._planned is None or self._planned[0] != epoch:
            self._planned = (epoch, self._make_plan(epoch))
        return self._planned[1]

    def _make_plan(self, epoch: int) -> list[list[int]]:
        sources = [g.source for g in self.groups] if self.config.same_source else None
        rng = random.Random(self.config.seed * 1000 + epoch)
        weights = self._source_weights
        return plan_batches(self.lengths, self.config.batch_size * self.world, rng, sources=sources,
                            edges=self.config.bucket_edges, drop_last=self.world > 1, weights=weights)

    def _examples(self, epoch: int, step_in_epoch: int, indices: list[int]) -> Any:
        rng = random.Random(f"{self.config.seed}-{epoch}-{step_in_epoch}")
        examples = [draw_example(self.groups[i], self.config.group_size, rng,
                                 with_scores=self.config.knowledge_distillation) for i in indices]
        per_rank = len(examples) // self.world
        return examples[self.rank * per_rank : (self.rank + 1) * per_rank]

    # ------------------------------------------------------------------ loop
    def train(self, *, stop_at: int | None = None) -> Path:
        """Train until ``max_steps`` or ``epochs``; returns the directory of the final model.

        ``stop_at`` ends the run after that step without writing the final model, as an
        interruption would (the tests resume from the last checkpoint).
        """
        config = self.config
        if self.rank == 0:
            self.output.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.output / "train_config.json", json.dumps(config.to_json(), indent=2))
        self.model.train()
        parameters = list(self.compact.parameters()) if self.compact is not None else self.model.trainable_parameters()
        started = time.perf_counter()
        with progress_bar(self.total_steps, "train", "step", config.show_progress and self.rank == 0) as bar:
            bar.update(self.step)
            while self.step < self.total_steps:
                epoch, in_epoch = divmod(self.step, self.steps_per_epoch)
                indices = self._plan(epoch)[in_epoch]
                batch = self.collate(self._examples(epoch, in_epoch, indices)).to(self.device)
                self_distill = config.self_distill and self.step > config.self_distill_start_step
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                    out = self._loss(batch, self_distill, self.groups[indices[0]].source)
                out.loss.backward()
                distributed.sum_gradients(parameters)
                norm = torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{out.parts['loss']:.4f}")
                if self.rank == 0 and (self.step % config.logging_steps == 0 or self.step == self.total_steps):
                    self._log({"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4),
                               "lr": self.scheduler.get_last_lr()[0], "grad_norm": float(norm),
                               "seconds": round(time.perf_counter() - started, 2), **out.parts})
                if config.save_steps and self.step % config.save_steps == 0 and self.step < self.total_steps:
                    self._save_checkpoint()
                if stop_at is not None and self.step >= stop_at:
                    return self.output
        if self.compact is not None:
            self._install_compact_head()
        self.encoder.backend.weights_changed()  # type: ignore[attr-defined]
        if self.encoder.heads != "none" and self.model.unified:
            self.encoder.heads = "checkpoint"  # trained heads are the model's own now
        if self.rank == 0:
            self.encoder.save(self.output)
            if config.plot:
                plot_losses(self.output / LOG_FILE, self.output / "losses.png")
        return self.output

    # ------------------------------------------------------------------ state
    def _log(self, row: dict[str, Any]) -> None:
        with open(self.output / LOG_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    def _save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        target = self.output / f"checkpoint-{self.step}"
        tmp = self.output / f".checkpoint-{self.step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        self.encoder.save(tmp)
        torch.save({"step": self.step, "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(), "torch_rng": torch.random.get_rng_state()},
                   tmp / STATE_FILE)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)

    def _load_state(self, checkpoint: Path) -> None:
        state = torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.random.set_rng_state(state["torch_rng"])
        self.step = int(state["step"])
        log.info("resumed from %s at step %d", checkpoint, self.step)


def plot_losses(log_file: Path, out: Path) -> Path | None:
    """Per-head losses against steps as a PNG (needs matplotlib: ``pip install "m3search[plot]"``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no loss plot (pip install \"m3search[plot]\")")
        return None
    rows = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(7, 4))
    window = max(1, len(rows) // 20)  # a moving average: batches from different sources differ a lot
    for key in ("loss", "dense", "sparse", "colbert", "ensemble", "distill"):
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            steps, values = zip(*points)
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            axis.plot(steps[window - 1 :], smooth, label=key)
    axis.set_xlabel("step")
    axis.set_ylabel(f"loss (mean of {window} logged values)" if window > 1 else "loss")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
