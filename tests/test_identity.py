"""The encoder identity describes the model, not the path it was read from: an index built in
one directory is searched from another; the same model under another path or re-saved is
accepted; a different model or different settings are refused, saying what differs."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from m3search.cli import main
from m3search.encode import Encoder
from m3search.errors import IndexMismatchError
from m3search.identity import IDENTITY_KEYS
from m3search.index import Index


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.jsonl"
    docs = [{"id": "d1", "text": "Der Mount Everest ist hoch."}, {"id": "d2", "text": "Der Nil ist lang."}]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def test_index_built_with_a_relative_path_is_searched_from_another_directory(
        tiny_m3_path, corpus, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    shutil.copytree(tiny_m3_path, work / "models" / "tiny")
    monkeypatch.chdir(work)
    assert main(["index", str(corpus), "--index", "idx", "--model", "./models/tiny", "-q"]) == 0
    recorded = json.loads((work / "idx" / "manifest.json").read_text())["encoder"]
    assert recorded["source"] == str((work / "models" / "tiny").resolve())
    monkeypatch.chdir(tmp_path)  # elsewhere: the model is found through the absolute source
    capsys.readouterr()
    assert main(["search", "--index", "work/idx", "Everest", "-k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hits"][0]["id"] == "d1"
    monkeypatch.chdir(work / "models")  # the same model spelled differently is the same encoder
    assert main(["search", "--index", "../idx", "Everest", "-k", "1", "--model", "tiny"]) == 0


def test_same_model_under_another_path_or_resaved_is_accepted(tiny_m3, tiny_m3_path, tmp_path):
    index = Index.create(tmp_path / "idx", tiny_m3.identity)
    index.close()
    copy = shutil.copytree(tiny_m3_path, tmp_path / "elsewhere" / "copy")
    resaved = Encoder.load(copy, device="cpu").save(tmp_path / "resaved")
    for path in (copy, resaved):
        identity = Encoder.load(path, device="cpu").identity
        assert {k: identity[k] for k in IDENTITY_KEYS} == {k: tiny_m3.identity[k] for k in IDENTITY_KEYS}
        Index.open(tmp_path / "idx", encoder_identity=identity).close()


def test_a_different_model_is_refused_naming_what_differs(tiny_m3, tiny_m3_path, tmp_path):
    Index.create(tmp_path / "idx", tiny_m3.identity).close()
    tuned = Encoder.load(tiny_m3_path, device="cpu")
    with torch.no_grad():  # a "fine-tuned" model: every weight moved a little
        for parameter in tuned.backend.network.parameters():
            parameter.add_(1e-3)
    tuned_dir = tuned.save(tmp_path / "tuned")
    with pytest.raises(IndexMismatchError, match=r"weights: index '[0-9a-f]+', encoder '[0-9a-f]+'"):
        Index.open(tmp_path / "idx", encoder_identity=Encoder.load(tuned_dir, device="cpu").identity)
    mean_pooled = Encoder.load(tiny_m3_path, device="cpu", pooling="mean")
    with pytest.raises(IndexMismatchError, match="settings: index"):
        Index.open(tmp_path / "idx", encoder_identity=mean_pooled.identity)


def test_heads_changed_alone_change_the_identity(tiny_m3_path):
    plain = Encoder.load(tiny_m3_path, device="cpu")
    other = Encoder.load(tiny_m3_path, device="cpu").add_heads(init="random", seed=3, replace=True)
    assert other.heads == "random:3" and other.identity["weights"] != plain.identity["weights"]
