"""The sparse head's prior over the vocabulary: one weight per token id multiplying the head's
weights, saved beside the heads, part of the identity, the same on torch and the exported graphs,
and counted over the training passages by ``m3search train --sparse-idf-prior``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from m3search.encode import Encoder
from m3search.encode.backends import onnx_files
from m3search.encode.sparse_prior import idf, idf_prior
from m3search.errors import CheckpointError, ConfigurationError
from m3search.train.groups import read_groups
from m3search.train.train_config import TrainConfig
from m3search.train.trainer import Trainer
from tests.train.batches import write_train_file

TEXTS = ["Mount Everest is the highest mountain", "Der Nil fließt nach Norden", "the the the mountain"]


def with_prior(path, prior: np.ndarray) -> None:
    torch.save(torch.from_numpy(prior), path / "sparse_prior.pt")


def ramp(encoder: Encoder) -> np.ndarray:
    vocab = int(encoder.backend.network.backbone_config.vocab_size)
    return np.linspace(0.5, 2.0, vocab, dtype=np.float32)


def test_the_prior_multiplies_each_tokens_weight_and_changes_the_identity(tiny_m3_copy):
    plain = Encoder.load(tiny_m3_copy, device="cpu")
    prior = ramp(plain)
    with_prior(tiny_m3_copy, prior)
    weighted = Encoder.load(tiny_m3_copy, device="cpu")
    assert weighted.identity["weights"] != plain.identity["weights"]
    before, after = plain.encode(TEXTS, parts="sparse").sparse, weighted.encode(TEXTS, parts="sparse").sparse
    for a, b in zip(before, after):
        assert a.ids.tolist() == b.ids.tolist()
        np.testing.assert_allclose(b.weights, a.weights * prior[a.ids], rtol=1e-5)


def test_a_bfloat16_model_keeps_its_prior_float32_and_its_identity(tiny_m3_copy):
    prior = ramp(Encoder.load(tiny_m3_copy, device="cpu"))
    with_prior(tiny_m3_copy, prior)
    plain = Encoder.load(tiny_m3_copy, device="cpu")
    bf16 = Encoder.load(tiny_m3_copy, device="cpu", dtype=torch.bfloat16)
    assert bf16.backend.network.sparse_prior.dtype == torch.float32
    assert bf16.identity["weights"]  # hashing the prior works whatever the weights' dtype
    a, b = plain.encode(TEXTS[:1], parts="sparse").sparse[0], bf16.encode(TEXTS[:1], parts="sparse").sparse[0]
    assert a.ids.tolist() == b.ids.tolist()
    np.testing.assert_allclose(b.weights, a.weights, rtol=0.05, atol=0.01)


def test_saving_keeps_the_prior_and_new_heads_drop_it(tiny_m3_copy, tmp_path):
    with_prior(tiny_m3_copy, ramp(Encoder.load(tiny_m3_copy, device="cpu")))
    encoder = Encoder.load(tiny_m3_copy, device="cpu")
    encoder.save(tmp_path / "saved")
    again = Encoder.load(tmp_path / "saved", device="cpu")
    assert again.identity["weights"] == encoder.identity["weights"]
    assert [v.to_dict() for v in again.encode(TEXTS, parts="sparse").sparse] == \
        [v.to_dict() for v in encoder.encode(TEXTS, parts="sparse").sparse]
    again.add_heads(init="baseline", seed=0, replace=True)
    again.save(tmp_path / "fresh")
    assert not (tmp_path / "fresh" / "sparse_prior.pt").exists()


@pytest.mark.parametrize("bad", ["shape", "type"])
def test_a_prior_that_is_not_one_weight_per_token_is_refused_by_name(tiny_m3_copy, bad):
    if bad == "shape":
        torch.save(torch.ones(3, 2), tiny_m3_copy / "sparse_prior.pt")
    else:
        torch.save({"prior": torch.ones(3)}, tiny_m3_copy / "sparse_prior.pt")
    with pytest.raises(CheckpointError, match="sparse prior"):
        Encoder.load(tiny_m3_copy, device="cpu")


def test_the_exported_graph_applies_the_prior_in_float32_also_in_int8(tiny_m3_copy, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    import onnx

    monkeypatch.setattr(onnx_files, "cache_dir", lambda: tmp_path / "cache")
    with_prior(tiny_m3_copy, ramp(Encoder.load(tiny_m3_copy, device="cpu")))
    expected = Encoder.load(tiny_m3_copy, device="cpu").encode(TEXTS, parts="sparse").sparse
    for kind, rtol, atol in (("onnx", 0, 1e-4), ("onnx-int8", 0.1, 0.02)):  # int8: the backbone's rounding only
        got = Encoder.load(tiny_m3_copy, backend=kind).encode(TEXTS, parts="sparse").sparse
        for a, b in zip(expected, got):
            assert a.ids.tolist() == b.ids.tolist()
            np.testing.assert_allclose(b.weights, a.weights, rtol=rtol, atol=atol)
    graph = onnx.load(str(onnx_files.graph_dir(tiny_m3_copy, "onnx-int8") / "model.onnx")).graph
    one_dimensional = {i.name for i in graph.initializer if len(i.dims) == 1 and i.data_type == onnx.TensorProto.FLOAT}
    assert any(n.op_type in ("Gather", "GatherND") and n.input[0] in one_dimensional for n in graph.node)


def test_idf_prior_counts_document_frequency_over_passages():
    values, n = idf([[1, 2, 2], [1, 3], [1]], 5)
    assert n == 3
    assert values[1] < values[2] == values[3] < values[0] == values[4]
    prior = idf_prior([[1, 2, 2], [1, 3], [1]], 5, alpha=0.5)
    np.testing.assert_allclose(prior, np.sqrt(values / values.mean()), rtol=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        idf_prior([[1]], 5, alpha=0.0)


def test_training_with_an_idf_prior_saves_the_prior_of_the_training_passages(tiny_m3_path, tmp_path):
    train = write_train_file(tmp_path / "train.jsonl", repeat=4)
    settings = {"train_data": [str(train)], "model": str(tiny_m3_path), "batch_size": 4, "group_size": 3,
                "max_steps": 2, "learning_rate": 1e-3, "device": "cpu", "dropout": 0.0, "show_progress": False,
                "freeze_encoder": True, "cache_dir": str(tmp_path / "cache"), "init_heads": "baseline", "plot": False}
    out = Trainer(TrainConfig(output_dir=str(tmp_path / "out"), sparse_idf_prior=0.5, **settings)).train()
    saved = torch.load(out / "sparse_prior.pt", weights_only=True).numpy()
    encoder = Encoder.load(tiny_m3_path, device="cpu")
    passages = sorted({t for g in read_groups(train) for t in (*g.pos, *g.neg)})
    vocab = max(len(encoder.tokenizer), int(encoder.backend.network.backbone_config.vocab_size))
    np.testing.assert_allclose(saved, idf_prior(encoder.tokenizer.encode(passages, max_length=256), vocab, 0.5))
    trained = Encoder.load(out, device="cpu")  # what the loss trained is what the model encodes
    trainer = Trainer(TrainConfig(output_dir=str(tmp_path / "check"), model=str(out), **{
        k: v for k, v in settings.items() if k not in ("model", "init_heads")}))
    ids = trained.tokenizer.encode(TEXTS[:1], max_length=64)[0]
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        reps = trainer.model.encode(input_ids, torch.ones_like(input_ids))
    expected = trained.encode(TEXTS[:1], parts="sparse").sparse[0]
    np.testing.assert_allclose(reps.sparse[0, expected.ids].numpy(), expected.weights, rtol=1e-5)
    plain = Trainer(TrainConfig(output_dir=str(tmp_path / "plain"), **settings)).train()
    assert not (plain / "sparse_prior.pt").exists()


@pytest.mark.parametrize(("options", "message"), [({"sparse_idf_prior": -1.0}, "sparse_idf_prior must be > 0"),
                                                  ({"sparse_idf_prior": 0.5, "init_heads": "none"}, "needs unified"),
                                                  ({"sparse_idf_prior": 0.5, "compact_colbert": [8], "freeze_encoder": True},
                                                   "compact_colbert keeps the model's own")])
def test_bad_prior_settings_are_refused(options, message):
    with pytest.raises(ConfigurationError, match=message):
        TrainConfig(train_data=["x.jsonl"], **options)


def test_shipped_heads_bring_their_prior_and_heads_without_one_remove_an_old_one(tiny_m3_path, tmp_path, monkeypatch):
    from m3search.encode.checkpoints import hub

    shipped = tmp_path / "heads"
    (shipped / "tiny").mkdir(parents=True)
    for name in hub.HEAD_FILES:
        (shipped / "tiny" / name).write_bytes((tiny_m3_path / name).read_bytes())
    torch.save(torch.ones(5001), shipped / "tiny" / "sparse_prior.pt")
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    monkeypatch.setattr(hub, "SHIPPED_HEADS", shipped)
    hub.install_shipped_heads("tiny", checkpoint)
    assert (checkpoint / "sparse_prior.pt").read_bytes() == (shipped / "tiny" / "sparse_prior.pt").read_bytes()
    (shipped / "tiny" / "sparse_prior.pt").unlink()
    hub.install_shipped_heads("tiny", checkpoint)
    assert sorted(p.name for p in checkpoint.iterdir()) == sorted(hub.HEAD_FILES)


@pytest.fixture
def load_dtypes(monkeypatch):
    """The ``dtype`` each ``load_network`` call of the torch backend was asked for, in order."""
    from m3search.encode.backends import torch as torch_backend

    asked = []
    original = torch_backend.load_network

    def recording(path, **kwargs):
        asked.append(kwargs.get("dtype"))
        return original(path, **kwargs)

    monkeypatch.setattr(torch_backend, "load_network", recording)
    return asked


def test_a_checkpoint_saved_in_bfloat16_loads_without_a_float32_copy(tiny_m3_copy, tmp_path, load_dtypes):
    """Saved from a bfloat16 model, the weights are read as bfloat16 (no float32 detour: what keeps
    a bfloat16 BGE-M3 under 2 GB while loading), with the identity and outputs of loading them
    as float32 and casting."""
    from m3search.encode.backends.torch import stored_dtype

    Encoder.load(tiny_m3_copy, device="cpu", dtype=torch.bfloat16).save(tmp_path / "bf16")
    assert stored_dtype(tmp_path / "bf16") == torch.bfloat16 and stored_dtype(tiny_m3_copy) == torch.float32
    load_dtypes.clear()
    direct = Encoder.load(tmp_path / "bf16", device="cpu", dtype=torch.bfloat16)
    Encoder.load(tiny_m3_copy, device="cpu", dtype=torch.bfloat16)
    assert load_dtypes == [torch.bfloat16, None]  # read as stored; a float32 checkpoint is cast after loading
    assert next(direct.backend.network.backbone.parameters()).dtype == torch.bfloat16
    cast = Encoder.load(tmp_path / "bf16", device="cpu")
    cast.backend.network.to(torch.bfloat16)
    cast.backend.network.set_sparse_prior(cast.backend.network.sparse_prior)
    assert direct.identity == cast.identity
    assert direct.identity["weights"] == Encoder.load(tmp_path / "bf16", device="cpu").identity["weights"]
    text = ["Mount Everest is the highest mountain"]
    a, b = direct.encode(text, parts="all"), cast.encode(text, parts="all")
    assert np.array_equal(a.dense, b.dense) and np.array_equal(a.colbert[0], b.colbert[0])


def test_weights_stored_in_another_dtype_or_sharded_are_cast_after_loading(tiny_m3_copy, tmp_path, load_dtypes):
    from m3search.encode.backends.torch import stored_dtype

    Encoder.load(tiny_m3_copy, device="cpu", dtype=torch.bfloat16).save(tmp_path / "bf16")
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    assert stored_dtype(sharded) is None  # no model.safetensors (a sharded or .bin checkpoint)
    (sharded / "model.safetensors").write_bytes(b"\x00")
    assert stored_dtype(sharded) is None  # unreadable header
    load_dtypes.clear()
    half = Encoder.load(tmp_path / "bf16", device="cpu", dtype=torch.float16)
    assert load_dtypes == [None]  # bfloat16 on disk, float16 asked: read as float32, then cast
    assert next(half.backend.network.backbone.parameters()).dtype == torch.float16
