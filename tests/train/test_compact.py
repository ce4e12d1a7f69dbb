"""Compact multi-vector heads on the tiny BGE-M3-shaped checkpoint: the loss goes down, everything
but the new head stays as it was, the model saves and reloads to the same outputs, and bad widths
are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from m3search.cli import main
from m3search.encode import Encoder
from m3search.errors import ConfigurationError
from m3search.train.compact import CompactColbert, check_dims
from m3search.train.train_config import TrainConfig
from m3search.train.trainer import Trainer
from tests.train.batches import write_train_file
from tests.train.test_trainer import config


@pytest.fixture
def train_file(tmp_path):
    return write_train_file(tmp_path / "train.jsonl", repeat=8)


def compact_config(tiny_m3_path, train_file, out, **options) -> TrainConfig:
    settings = {"max_steps": 20, "learning_rate": 3e-3, "freeze_encoder": True, "compact_colbert": [16, 8, 4],
                "plot": False, "warmup_ratio": 0.0, "dropout": None, **options}
    return config(tiny_m3_path, train_file, out, **settings)


def test_a_compact_head_trains_down_and_leaves_the_rest_of_the_model_alone(tiny_m3_path, train_file, tmp_path):
    out = Trainer(compact_config(tiny_m3_path, train_file, tmp_path / "compact")).train()
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert {"colbert16", "colbert8", "colbert4", "loss"} <= set(rows[0])
    first, last = np.mean([r["loss"] for r in rows[:4]]), np.mean([r["loss"] for r in rows[-4:]])
    assert last < first
    full, compact = Encoder.load(tiny_m3_path, device="cpu"), Encoder.load(out, device="cpu")
    assert compact.colbert_dim == 16 and compact.identity["colbert_dim"] == 16
    assert compact.config.extra["colbert_dims"] == [16, 8, 4]
    before, after = full.backend.network.state_dict(), compact.backend.network.state_dict()
    assert after["colbert_linear.weight"].shape == (16, 32)
    unchanged = [k for k in before if not k.startswith("colbert_linear")]
    assert unchanged and all(torch.equal(before[k], after[k]) for k in unchanged)
    texts = ["Der Mount Everest ist 8848 m hoch.", "Canberra"]
    a, b = full.encode(texts, parts="all"), compact.encode(texts, parts="all")
    np.testing.assert_array_equal(a.dense, b.dense)
    assert b.colbert.dim == 16 and np.allclose(np.linalg.norm(b.colbert.data, axis=1), 1, atol=1e-5)
    again = Encoder.load(compact.save(tmp_path / "saved"), device="cpu")
    np.testing.assert_array_equal(again.encode(texts, parts="all").colbert.data, b.colbert.data)


def test_the_start_is_the_full_heads_principal_directions_and_nested():
    torch.manual_seed(0)
    full = torch.nn.Linear(12, 12)
    states = torch.randn(500, 12) @ torch.diag(torch.linspace(3, 0.1, 12))
    head = CompactColbert.from_principal_directions(full, states, [6, 3])
    projected = (head.linear(states) - head.linear.bias).detach()
    spread = projected.var(dim=0)
    assert torch.all(spread[:-1] >= spread[1:] - 1e-5)  # ordered by variance: any prefix is the best of its size
    assert head.rows(states[None], torch.ones(1, 500), 3).shape == (1, 499, 3)


def test_bad_widths_and_settings_are_refused():
    with pytest.raises(ConfigurationError, match="integers in 1..32"):
        check_dims([64, 16], 32)
    with pytest.raises(ConfigurationError, match="got True"):
        check_dims([True], 32)
    assert check_dims([4, 16, 8, 16], 32) == (16, 8, 4)
    with pytest.raises(ConfigurationError, match="needs freeze_encoder and cache_states"):
        TrainConfig(train_data=["x.jsonl"], compact_colbert=[16])


def test_the_cli_trains_a_compact_head(tiny_m3_path, train_file, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["train", "--train-data", str(train_file), "--model", str(tiny_m3_path), "--output-dir", str(out),
                 "--freeze-encoder", "true", "--compact-colbert", "8", "4", "--max-steps", "2", "--batch-size", "4",
                 "--group-size", "3", "--device", "cpu", "--show-progress", "false", "--plot", "false",
                 "--cache-dir", str(tmp_path / "cache")])
    assert code == 0 and Encoder.load(out, device="cpu").colbert_dim == 8
    assert main(["train", "--train-data", str(train_file), "--model", str(tiny_m3_path), "--output-dir",
                 str(tmp_path / "bad"), "--freeze-encoder", "true", "--compact-colbert", "64"]) == 2
    assert "integers in 1..32" in capsys.readouterr().err


def test_a_nested_width_is_chosen_at_load_and_is_part_of_the_identity(tiny_m3_path, train_file, tmp_path):
    from m3search.index import Index

    out = Trainer(compact_config(tiny_m3_path, train_file, tmp_path / "compact", max_steps=2)).train()
    wide, narrow = Encoder.load(out, device="cpu"), Encoder.load(out, device="cpu", colbert_dim=8)
    assert wide.colbert_dims == (16, 8, 4) and narrow.colbert_dim == 8 and narrow.identity["colbert_dim"] == 8
    texts = ["Der Mount Everest ist 8848 m hoch."]
    rows16, rows8 = wide.encode(texts, parts="all").colbert.data, narrow.encode(texts, parts="all").colbert.data
    prefix = rows16[:, :8] / np.linalg.norm(rows16[:, :8], axis=1, keepdims=True)
    np.testing.assert_allclose(rows8, prefix, atol=1e-5)
    assert narrow.identity["settings"] != wide.identity["settings"]
    with Index.create(tmp_path / "idx8", narrow.identity) as index:
        index.add(["d"], narrow.encode(texts, parts="all"), texts=texts)
    from m3search.errors import IndexMismatchError

    with pytest.raises(IndexMismatchError):
        Index.open(tmp_path / "idx8", encoder_identity=wide.identity)
    with pytest.raises(ConfigurationError, match=r"colbert_dim 12 is not a width this multi-vector head offers: \[16, 8, 4\]"):
        Encoder.load(out, device="cpu", colbert_dim=12)
    with pytest.raises(ConfigurationError, match=r"offers: \[32\]"):
        Encoder.load(tiny_m3_path, device="cpu", colbert_dim=16)  # a head trained at full width only
    assert Encoder.load(tiny_m3_path).identity["settings"] == Encoder.load(tiny_m3_path, colbert_dim=None).identity["settings"]


def test_an_index_at_a_nested_width_from_the_cli_keeps_it(tiny_m3_path, train_file, tmp_path, capsys):
    from m3search.index import Index
    from m3search.io.jsonl import write_jsonl

    model = Trainer(compact_config(tiny_m3_path, train_file, tmp_path / "compact", max_steps=2)).train()
    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, [{"id": "everest", "text": "Der Mount Everest ist 8848 m hoch."},
                         {"id": "nile", "text": "Der Nil ist ein Fluss."}])
    idx = tmp_path / "idx"
    assert main(["index", str(corpus), "--index", str(idx), "--model", str(model), "--colbert-dim", "8", "-q"]) == 0
    with Index.open(idx) as index:
        assert index.manifest.encoder["colbert_dim"] == 8
    assert main(["search", "--index", str(idx), "Wie hoch ist der Everest?", "--json"]) == 0  # loads the 8-wide encoder
    assert '"everest"' in capsys.readouterr().out
    assert main(["index", str(corpus), "--index", str(idx), "--colbert-dim", "4", "-q"]) == 2
    assert "was built with --colbert-dim 8, not 4" in capsys.readouterr().err
