from __future__ import annotations

import json

import numpy as np
import pytest

from m3search import embeddings_io
from m3search.cli import main

DOCS = [{"id": "d1", "text": "Der Mount Everest ist hoch."}, {"id": "d2", "text": "珠穆朗玛峰是世界最高峰。"}]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in DOCS), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", ["npz", "jsonl"])
def test_encode_writes_requested_parts_equal_to_the_api(tiny_m3, tiny_m3_path, corpus, tmp_path, suffix):
    out = tmp_path / f"out.{suffix}"
    assert main(["encode", str(corpus), "-o", str(out), "--model", str(tiny_m3_path), "--parts", "all", "-q"]) == 0
    ids, emb = embeddings_io.load(out)
    expected = tiny_m3.encode([d["text"] for d in DOCS], parts="all")
    assert ids == ["d1", "d2"] and emb.parts == ("dense", "sparse", "colbert")
    np.testing.assert_allclose(emb.dense, expected.dense, atol=1e-6)
    assert [v.to_dict().keys() for v in emb.sparse] == [v.to_dict().keys() for v in expected.sparse]
    np.testing.assert_allclose(emb.colbert.data, expected.colbert.data, atol=1e-6)


def test_errors_are_one_line_without_traceback(tiny_m3_path, corpus, tmp_path, capsys):
    assert main(["encode", str(corpus), "-o", str(tmp_path / "x.csv"), "--model", str(tiny_m3_path)]) == 2
    assert "use a .npz or .jsonl file name" in capsys.readouterr().err
    assert main(["encode", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "x.npz")]) == 2
    assert "cannot read" in capsys.readouterr().err
