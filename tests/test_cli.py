from __future__ import annotations

import json

import numpy as np
import pytest

from m3search.cli import main
from m3search.io import embeddings as embeddings_io

DOCS = [{"id": "d1", "text": "Der Mount Everest ist hoch.", "lang": "de"}, {"id": "d2", "text": "珠穆朗玛峰是世界最高峰。", "lang": "zh"}]


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
    for ours, theirs in zip(emb.sparse, expected.sparse):
        assert ours.to_dict() == pytest.approx(theirs.to_dict(), abs=1e-6)
    np.testing.assert_allclose(emb.colbert.data, expected.colbert.data, atol=1e-6)


def test_errors_are_one_line_without_traceback(tiny_m3_path, corpus, tmp_path, capsys):
    assert main(["encode", str(corpus), "-o", str(tmp_path / "x.csv"), "--model", str(tiny_m3_path)]) == 2
    assert "use a .npz or .jsonl file name" in capsys.readouterr().err
    assert main(["encode", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "x.npz")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_index_then_search_with_filters_json_and_explain(tiny_m3_path, corpus, tmp_path, capsys):
    index_dir = tmp_path / "idx"
    assert main(["index", str(corpus), "--index", str(index_dir), "--model", str(tiny_m3_path), "-q"]) == 0
    assert "2 documents (dense, sparse, colbert)" in capsys.readouterr().err
    # indexing again upserts by id
    assert main(["index", str(corpus), "--index", str(index_dir), "--model", str(tiny_m3_path), "-q"]) == 0
    assert "2 documents" in capsys.readouterr().err
    assert main(["search", "--index", str(index_dir), "Mount Everest", "-k", "2", "--json", "--explain"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["mode"] == "all" and len(result["hits"]) == 2
    hit = result["hits"][0]
    assert set(hit["scores"]) == {"dense", "sparse", "colbert"} and hit["explanation"]["colbert"]
    assert main(["search", "--index", str(index_dir), "Berg", "--mode", "dense", "--filter", "lang=xx"]) == 0
    assert "(no hits)" in capsys.readouterr().out


def test_search_errors_are_clean(tiny_m3_path, corpus, tmp_path, capsys):
    assert main(["search", "--index", str(tmp_path / "none"), "q"]) == 2
    assert "no index at" in capsys.readouterr().err
    index_dir = tmp_path / "idx"
    main(["index", str(corpus), "--index", str(index_dir), "--model", str(tiny_m3_path), "-q", "--parts", "dense"])
    capsys.readouterr()
    assert main(["search", "--index", str(index_dir), "q", "--mode", "all"]) == 2
    assert "needs ['sparse', 'colbert']" in capsys.readouterr().err
    assert main(["search", "--index", str(index_dir), "q", "--filter", "nonsense"]) == 2
    assert "FIELD=VALUE" in capsys.readouterr().err
