"""One process of the two-process cross-device test (spawned by test_distributed.py)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist

from m3search.train.distributed import sum_gradients
from m3search.train.step import compute_loss
from tests.train.batches import make_batch, make_model


def run(rank: int, world: int, path: str, out: str, port: int, teacher: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        model = make_model(Path(path))
        rows = slice(0, 2) if rank == 0 else slice(2, 4)  # each process holds two of the four queries
        loss = compute_loss(model, make_batch(Path(path), rows, teacher=teacher))
        loss.loss.backward()
        sum_gradients(model.trainable_parameters())
        if rank == 0:
            torch.save({"loss": loss.loss.detach(), "grads": {n: p.grad for n, p in model.named_parameters()}}, out)
        # Both ranks meet before the group is torn down: a rank that leaves while the other still
        # has gloo traffic in flight was seen to abort (SIGABRT) under load.
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # Leave without running C++ destructors: a gloo thread still being joined at interpreter exit
    # aborted a finished worker ("terminate called without an active exception") under load.
    os._exit(0)
