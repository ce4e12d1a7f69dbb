"""The training loop end to end on the tiny checkpoint: outputs, resume, heads-only training on
cached token states, length buckets, the CLI with a YAML config."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from m3search.cli import main
from m3search.encode import Encoder
from m3search.errors import ConfigurationError
from m3search.train.collate import bucket_of, draw_counts, plan_batches
from m3search.train.groups import TrainGroup, read_groups, write_groups
from m3search.train.train_config import TrainConfig
from m3search.train.trainer import Trainer
from tests.train.batches import write_train_file


@pytest.fixture
def train_file(tmp_path):
    return write_train_file(tmp_path / "train.jsonl", repeat=4)


def config(tiny_m3_path, train_file, out, **options) -> TrainConfig:
    settings = {"train_data": [str(train_file)], "output_dir": str(out), "model": str(tiny_m3_path), "batch_size": 4,
                "group_size": 3, "max_steps": 6, "learning_rate": 1e-3, "logging_steps": 1, "device": "cpu",
                "dropout": 0.0, "show_progress": False, "cache_dir": str(out.parent / "cache")}
    settings.update(options)
    return TrainConfig(**settings)


def weights(directory) -> dict[str, np.ndarray]:
    network = Encoder.load(directory, device="cpu").backend.network
    return {k: v.numpy().copy() for k, v in network.state_dict().items()}


def test_training_writes_a_model_logs_and_a_plot_and_changes_the_weights(tiny_m3_path, train_file, tmp_path):
    out = Trainer(config(tiny_m3_path, train_file, tmp_path / "out")).train()
    for name in ("model.safetensors", "colbert_linear.pt", "sparse_linear.pt", "tokenizer.json", "m3search.json",
                 "train_log.jsonl", "losses.png", "train_config.json"):
        assert (out / name).is_file(), name
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {"loss", "dense", "sparse", "colbert", "ensemble", "distill", "lr", "grad_norm"} <= set(rows[0])
    before, after = weights(tiny_m3_path), weights(out)
    assert all(np.abs(before[k] - after[k]).max() > 0 for k in before if "colbert" in k or "sparse" in k)
    trained = Encoder.load(out, device="cpu")
    assert trained.heads == "checkpoint" and trained.identity["weights"] != Encoder.load(tiny_m3_path).identity["weights"]


@pytest.mark.slow
def test_resume_continues_to_the_same_weights(tiny_m3_path, train_file, tmp_path):
    straight = Trainer(config(tiny_m3_path, train_file, tmp_path / "straight")).train()
    interrupted = config(tiny_m3_path, train_file, tmp_path / "resumed", save_steps=3, max_steps=6)
    Trainer(interrupted).train(stop_at=4)  # interrupted after step 4, past the checkpoint at step 3
    assert (tmp_path / "resumed" / "checkpoint-3" / "trainer_state.pt").is_file()
    again = Trainer(interrupted)
    assert again.step == 3
    again.train()
    a, b = weights(straight), weights(tmp_path / "resumed")
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-6


def test_heads_only_training_on_cached_states_keeps_the_encoder(tiny_m3_path, train_file, tmp_path):
    out = Trainer(config(tiny_m3_path, train_file, tmp_path / "heads", freeze_encoder=True)).train()
    before, after = weights(tiny_m3_path), weights(out)
    backbone = [k for k in before if k.startswith("backbone.")]
    assert backbone and all(np.array_equal(before[k], after[k]) for k in backbone)
    assert any(not np.array_equal(before[k], after[k]) for k in before if k.startswith("sparse_linear"))
    assert list((tmp_path / "cache").glob("*/states.npy"))


def test_cached_states_give_the_same_loss_as_the_encoder(tiny_m3_path, train_file, tmp_path):
    from m3search.train.step import compute_loss

    losses = []
    for cache in (True, False):
        trainer = Trainer(config(tiny_m3_path, train_file, tmp_path / f"c{cache}", freeze_encoder=True,
                                 cache_states=cache))
        batch = trainer.collate(trainer._examples(0, 0, trainer._plan(0)[0]))
        with torch.no_grad():
            losses.append(compute_loss(trainer.model.eval(), batch).loss.item())
    assert losses[0] == pytest.approx(losses[1], abs=2e-3)  # float16 states


def test_batches_come_from_one_length_bucket_and_one_source():
    lengths = [10, 600, 20, 700, 30, 40, 1500, 1600] * 3
    sources = ["a", "b"] * 12
    batches = plan_batches(lengths, 2, random.Random(0), sources=sources)
    assert sorted(i for b in batches for i in b) == list(range(24))
    for b in batches:
        assert len({bucket_of(lengths[i]) for i in b}) == 1 and len({sources[i] for i in b}) == 1


def test_the_unweighted_plan_is_the_one_the_shipped_heads_were_trained_on():
    """Pinned: the plan m3search drew before sampling weights existed, so the shipped heads'
    training script still reruns them bit for bit; weights of 1 draw the same plan."""
    lengths, sources = [10, 600, 20, 700, 30, 40, 1500, 1600] * 3, ["a", "b"] * 12
    pinned = [[18, 12], [3, 17], [23], [11, 19], [13], [0, 20], [10, 4], [22, 14], [9, 1], [5, 21], [15, 7], [6],
              [2, 8], [16]]
    assert plan_batches(lengths, 2, random.Random(0), sources=sources) == pinned
    assert plan_batches(lengths, 2, random.Random(0), sources=sources, weights=[1] * 24) == pinned


def test_source_weights_draw_a_source_more_often_and_never_twice_in_one_batch():
    lengths, sources = [10] * 6 + [600] * 6 + [10] * 6, ["sib200-train"] * 12 + ["qa"] * 6
    weights = [2.5] * 12 + [1.0] * 6
    for seed in range(5):
        batches = plan_batches(lengths, 2, random.Random(seed), sources=sources, weights=weights)
        drawn = [i for b in batches for i in b]
        assert sorted(i for i in drawn if sources[i] == "qa") == list(range(12, 18))
        assert len([i for i in drawn if i < 12]) == 30  # 12 groups twice, half of them (over both buckets) a third time
        assert all(len(set(b)) == len(b) and len({sources[i] for i in b}) == 1 for b in batches)
    assert draw_counts([0.5], random.Random(0)) == [1]  # a single group of weight 0.5 is drawn (rounded half up)
    assert sum(draw_counts([0.25] * 10, random.Random(0))) == 3
    mixed = plan_batches([10] * 4, 4, random.Random(0), weights=[0, 2, 1, 1])  # one bucket, no sources
    assert sorted(i for b in mixed for i in b) == [1, 1, 2, 3] and all(len(set(b)) == len(b) for b in mixed)
    full = plan_batches([10] * 5, 2, random.Random(0), weights=[2] * 5, drop_last=True)
    assert all(len(b) == 2 and len(set(b)) == 2 for b in full) and len(full) == 4


def test_source_weights_set_the_epoch_length_and_are_checked(tiny_m3_path, train_file, tmp_path):
    groups = read_groups(train_file)
    names = sorted({g.source or "" for g in groups})
    plain = Trainer(config(tiny_m3_path, train_file, tmp_path / "plain", same_source=True))
    doubled = Trainer(config(tiny_m3_path, train_file, tmp_path / "doubled", same_source=True,
                             source_weights=[f"{names[0]}=2"]))
    counts = [sum(len(b) for b in trainer._plan(0)) for trainer in (plain, doubled)]
    assert counts[1] == counts[0] + sum(g.source == names[0] for g in groups)
    for bad in ("a", "a=-1", "=2", "a=x", "a=nan"):
        with pytest.raises(ConfigurationError, match=f"source_weights entry '{bad}'"):
            config(tiny_m3_path, train_file, tmp_path / "x", source_weights=[bad])
    with pytest.raises(ConfigurationError, match="must be list"):
        config(tiny_m3_path, train_file, tmp_path / "x", source_weights=[2])
    with pytest.raises(ConfigurationError, match="twice"):
        config(tiny_m3_path, train_file, tmp_path / "x", source_weights=["a=1", "a=2"])
    with pytest.raises(ConfigurationError, match=r"\['typo'\] match no training group's source"):
        Trainer(config(tiny_m3_path, train_file, tmp_path / "typo", source_weights=["typo=2"]))
    with pytest.raises(ConfigurationError, match="leave none"):
        Trainer(config(tiny_m3_path, train_file, tmp_path / "none", source_weights=[f"{n}=0" for n in names]))
    out = Trainer(config(tiny_m3_path, train_file, tmp_path / "trained", same_source=True, max_steps=2,
                         source_weights=[f"{names[0]}=2"])).train()
    assert (out / "model.safetensors").is_file()


def test_cli_trains_from_a_yaml_config_with_flag_overrides(tiny_m3_path, train_file, tmp_path, capsys):
    yaml_file = tmp_path / "train.yaml"
    yaml_file.write_text(f"train_data: [{train_file}]\nmodel: {tiny_m3_path}\nbatch_size: 4\ngroup_size: 3\n"
                         f"max_steps: 50\ndevice: cpu\nshow_progress: false\nplot: false\n")
    out = tmp_path / "cli-out"
    assert main(["train", "--config", str(yaml_file), "--max-steps", "2", "--output-dir", str(out)]) == 0
    assert [json.loads(x)["step"] for x in (out / "train_log.jsonl").read_text().splitlines()] == [2]
    assert json.loads((out / "train_config.json").read_text())["max_steps"] == 2
    assert main(["train", "--config", str(yaml_file), "--batch-size", "0"]) == 2
    assert "batch_size must be >= 1" in capsys.readouterr().err


def test_groups_round_trip_and_bad_lines_are_named(tmp_path):
    path = tmp_path / "g.jsonl"
    write_groups(path, [TrainGroup("q", ("p",), ("n1", "n2"), (1.0,), (0.5, 0.2), lang="de", source="x")])
    assert read_groups(path)[0] == TrainGroup("q", ("p",), ("n1", "n2"), (1.0,), (0.5, 0.2), "de", "x")
    path.write_text('{"query": "q", "pos": []}\n')
    with pytest.raises(Exception, match=r"g.jsonl:1: 'pos' is empty"):
        read_groups(path)


@pytest.mark.slow
def test_torchrun_trains_with_two_processes(tiny_m3_path, train_file, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "dist"
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "m3search", "train", "--train-data", str(train_file),
         "--output-dir", str(out), "--model", str(tiny_m3_path), "--batch-size", "2", "--group-size", "3",
         "--max-steps", "2", "--logging-steps", "1", "--show-progress", "false", "--plot", "false", "--device", "cpu"],
        check=False, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert [json.loads(x)["step"] for x in (out / "train_log.jsonl").read_text().splitlines()] == [1, 2]
    assert Encoder.load(out, device="cpu").parts == ("dense", "sparse", "colbert")


def test_heads_only_training_is_reproducible(tiny_m3_path, train_file, tmp_path):
    runs = [Trainer(config(tiny_m3_path, train_file, tmp_path / f"run{i}", freeze_encoder=True, dropout=None,
                           init_heads="baseline")).train() for i in range(2)]
    a, b = weights(runs[0]), weights(runs[1])
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) <= 1e-7


def test_sparse_skip_sources_give_the_sparse_head_no_gradient_on_their_batches(tiny_m3_path, train_file, tmp_path):
    """Every batch is one source: skipping both leaves the sparse head as it was, skipping one
    trains it on the other's batches, and the multi-vector head trains either way."""
    before = weights(tiny_m3_path)
    runs = {}
    for name, skipped in (("both", ["a", "b"]), ("one", ["a"])):
        out = Trainer(config(tiny_m3_path, train_file, tmp_path / name, freeze_encoder=True, same_source=True,
                             sparse_skip_sources=skipped)).train()
        runs[name] = weights(out)
    sparse = [k for k in before if k.startswith("sparse_linear")]
    assert all(np.array_equal(before[k], runs["both"][k]) for k in sparse)
    assert any(not np.array_equal(before[k], runs["one"][k]) for k in sparse)
    assert any(not np.array_equal(before[k], runs["both"][k]) for k in before if k.startswith("colbert_linear"))
    with pytest.raises(ConfigurationError, match="needs same_source"):
        config(tiny_m3_path, train_file, tmp_path / "x", sparse_skip_sources=["a"])
