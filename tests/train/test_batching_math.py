"""Memory-saving paths give the full batch's numbers: sub-batches with checkpointing, and two
processes with cross-device negatives (real gloo processes)."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp

from m3search.train.step import compute_loss
from tests.train.batches import make_batch, make_model
from tests.train.dist_worker import run


def gradients(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], tol: float = 1e-5) -> None:
    assert set(a) == set(b)
    worst = max(float((a[n] - b[n]).abs().max()) for n in a)
    assert worst <= tol, worst


def test_sub_batches_give_the_full_batch_gradients(tiny_m3_path):
    batch = make_batch(tiny_m3_path, slice(0, 4))
    full_model = make_model(tiny_m3_path)
    full = compute_loss(full_model, batch)
    full.loss.backward()
    split_model = make_model(tiny_m3_path)
    split = compute_loss(split_model, batch, sub_batch_size=3)
    split.loss.backward()
    assert split.loss.item() == pytest.approx(full.loss.item(), abs=1e-6)
    assert_close(gradients(split_model), gradients(full_model))


def test_frozen_encoder_trains_only_the_heads(tiny_m3_path):
    model = make_model(tiny_m3_path, freeze_encoder=True)
    compute_loss(model, make_batch(tiny_m3_path)).loss.backward()
    trained = {n for n, p in model.named_parameters() if p.grad is not None}
    assert trained == {"network.colbert_linear.weight", "network.colbert_linear.bias",
                       "network.sparse_linear.weight", "network.sparse_linear.bias"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("teacher", [False, True])
def test_two_processes_equal_one_process_on_the_combined_batch(tiny_m3_path, tmp_path, teacher):
    out = tmp_path / "rank0.pt"
    mp.spawn(run, args=(2, str(tiny_m3_path), str(out), free_port(), teacher), nprocs=2, join=True)
    distributed = torch.load(out)
    model = make_model(tiny_m3_path)
    single = compute_loss(model, make_batch(tiny_m3_path, slice(0, 4), teacher=teacher))
    single.loss.backward()
    assert distributed["loss"].item() == pytest.approx(single.loss.item(), abs=1e-5)
    assert_close({n: g for n, g in distributed["grads"].items() if g is not None}, gradients(model))
