"""``m3search index`` into an existing index: the model, backend and heads the index records are
the defaults; a model option that differs is refused with one line naming both, nothing written."""

from __future__ import annotations

import json
import shutil

import pytest

from m3search.cli import main
from m3search.index import Index

FIRST = [{"id": "d1", "text": "Der Mount Everest ist hoch.", "lang": "de"},
         {"id": "d2", "text": "珠穆朗玛峰是世界最高峰。", "lang": "zh"}]
MORE = [{"id": "d3", "text": "The river flows to the sea.", "lang": "en"}]


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def built(tiny_m3_path, tmp_path, capsys):
    """An index the tiny checkpoint built (baseline heads, so that the heads are recorded too)."""
    index_dir = tmp_path / "idx"
    args = ["index", str(write(tmp_path / "first.jsonl", FIRST)), "--index", str(index_dir), "--model",
            str(tiny_m3_path), "--heads", "baseline", "-q"]
    assert main(args) == 0
    capsys.readouterr()
    return index_dir


def test_extending_without_model_options_uses_the_recorded_model_and_heads(built, tmp_path, capsys):
    assert main(["index", str(write(tmp_path / "more.jsonl", MORE)), "--index", str(built), "-q"]) == 0
    assert "3 documents (dense, sparse, colbert)" in capsys.readouterr().err
    with Index.open(built) as index:
        assert index.manifest.encoder["heads"] == "baseline"
        assert [d.metadata for d in index.get(["d3"])] == [{"lang": "en"}]


def test_a_copy_of_the_same_model_is_accepted_another_model_refused(built, tiny_m3_path, tmp_path, capsys):
    more = str(write(tmp_path / "more.jsonl", MORE))
    moved = tmp_path / "moved-model"
    shutil.copytree(tiny_m3_path, moved)  # the same weights elsewhere: the same model
    assert main(["index", more, "--index", str(built), "--model", str(moved), "-q"]) == 0
    capsys.readouterr()

    other = tmp_path / "other-model"
    shutil.copytree(tiny_m3_path, other)
    from safetensors.numpy import load_file, save_file

    weights = load_file(other / "model.safetensors")
    weights["embeddings.LayerNorm.bias"] = weights["embeddings.LayerNorm.bias"] + 0.01
    save_file(weights, other / "model.safetensors")
    write(tmp_path / "new.jsonl", [{"id": "d9", "text": "nothing of this is written"}])
    assert main(["index", str(tmp_path / "new.jsonl"), "--index", str(built), "--model", str(other), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"m3search: error: the index at {built} was built with model {str(tiny_m3_path.resolve())!r}, not "
                   f"--model {str(other)!r}: leave --model out to add to it with its own model, or build a new index")
    with Index.open(built) as index:
        assert index.count() == 3 and index.get(["d9"]) == [None]


def test_a_model_setting_that_differs_from_the_recording_is_one_line(built, tmp_path, capsys):
    more = str(write(tmp_path / "more.jsonl", MORE))
    assert main(["index", more, "--index", str(built), "--heads", "model", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [(f"m3search: error: the index at {built} was built with --heads 'baseline', not 'model': an "
                    "existing index keeps its model's settings (leave the option out, or build a new index)")]
    assert main(["index", more, "--index", str(built), "--long-strategy", "windows", "-q"]) == 2
    assert "built with --long-strategy 'truncate', not 'windows'" in capsys.readouterr().err
    assert main(["index", more, "--index", str(built), "--heads", "baseline", "-q"]) == 0  # the same setting is fine


def test_a_new_index_still_defaults_to_the_default_model_options(monkeypatch, tmp_path):
    from m3search.cli import common
    from m3search.cli.index import encoder_for
    from m3search.encode.checkpoints.hub import DEFAULT_MODEL

    seen = {}
    sentinel = object()
    monkeypatch.setattr("m3search.encode.Encoder.load", lambda name, **kw: seen.update(name=name, **kw) or sentinel)
    args = common.argparse.Namespace(model=None, device=None, backend=None, heads=None, quiet=True,
                                     **dict.fromkeys(common.LONG_FLAGS))
    assert encoder_for(args, None) is sentinel
    assert seen == {"name": DEFAULT_MODEL, "device": None, "backend": "torch", "calibration": None}
