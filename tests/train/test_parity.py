"""Loss and gradient parity with FlagEmbedding's ``EncoderOnlyEmbedderM3Model`` on the tiny M3
checkpoint: same batch, same weights, every gradient within 1e-5 (goldens from
``scripts/make_train_goldens.py`` in the reference environment)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from m3search.encode.backends.torch import load_network
from m3search.encode.tokenizer import TextTokenizer
from m3search.train.step import TrainBatch, compute_loss
from m3search.train.trainable import M3Trainable

TOL = 1e-5


@pytest.fixture(scope="module")
def golden(fixtures_dir):
    with np.load(fixtures_dir / "tiny-m3-train-goldens.npz") as z:
        return {k: z[k] for k in z.files}


def trainable(path) -> M3Trainable:
    network = load_network(path, dropout=0.0)
    tokenizer = TextTokenizer.load(path)
    return M3Trainable(network, pooling="cls", normalize=True, special_ids=tokenizer.special_ids.tolist(),
                       vocab_size=network.backbone_config.vocab_size).train()


@pytest.mark.parametrize("setting", ["hard", "m3_kd_loss", "kl_div"])
def test_loss_and_gradients_equal_flagembedding(golden, tiny_m3_path, setting):
    model = trainable(tiny_m3_path)
    teacher = torch.tensor(golden["teacher"]) if setting != "hard" else None
    batch = TrainBatch(torch.tensor(golden["query_ids"]), torch.tensor(golden["query_mask"]),
                       torch.tensor(golden["passage_ids"]), torch.tensor(golden["passage_mask"]), group_size=3,
                       teacher_scores=teacher)
    out = compute_loss(model, batch, kd_loss_type="kl_div" if setting == "kl_div" else "m3_kd_loss")
    out.loss.backward()
    assert float(out.loss) == pytest.approx(float(golden[f"{setting}/loss"]), abs=TOL)
    expected = {k.split("/grad/", 1)[1]: v for k, v in golden.items() if k.startswith(f"{setting}/grad/")}
    ours = {name: p.grad for name, p in model.named_parameters()}
    assert set(ours) == set(expected)
    worst = max(float(np.abs(ours[n].numpy() - expected[n]).max()) for n in expected)
    assert worst <= TOL, worst


def test_the_tokenizer_gives_the_golden_ids(golden, tiny_m3):
    for texts, ids, limit in (("queries", "query_ids", 32), ("passages", "passage_ids", 64)):
        ours = tiny_m3.tokenize(golden[texts].tolist(), max_length=limit)
        assert [len(row) for row in ours] == golden[ids.replace("ids", "mask")].sum(axis=1).tolist()
        for row, expected in zip(ours, golden[ids]):
            assert row == expected[: len(row)].tolist()
