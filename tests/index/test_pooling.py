"""Token pooling and sparse pruning: the functions, an index that stores reduced documents, the
CLI flags, and an evaluation that measures them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from m3search.errors import ConfigurationError
from m3search.index import Index
from m3search.index.pooling import compress, pool_rows, prune_weights
from m3search.types import Embeddings, Ragged, SparseBatch, SparseVector


def unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def test_pooling_merges_near_duplicate_rows_into_their_mean_in_text_order():
    a, b, c = unit([1, 0, 0]), unit([0, 1, 0]), unit([0, 0, 1])
    near = lambda v, i: unit(v + 0.01 * np.roll(v, i + 1))
    rows = np.stack([near(a, 0), near(a, 1), near(b, 0), near(b, 1), near(c, 0), near(c, 1)])
    pooled = pool_rows(rows, 2)
    assert pooled.shape == (3, 3)
    np.testing.assert_allclose(pooled, [rows[0:2].mean(0), rows[2:4].mean(0), rows[4:6].mean(0)], atol=1e-6)
    assert len(pool_rows(rows, 3)) <= 2 and pool_rows(rows, 100).shape == (1, 3)  # at most rows // factor
    np.testing.assert_array_equal(pool_rows(rows, 1), rows)
    np.testing.assert_array_equal(pool_rows(rows[:1], 2), rows[:1])
    kept = pool_rows(rows, 2, protected=1)
    np.testing.assert_array_equal(kept[0], rows[0])
    assert len(kept) == 1 + 5 // 2


def test_pruning_keeps_the_heaviest_weights_and_never_reorders_ids():
    v = SparseVector(np.array([2, 4, 6, 8]), np.array([0.4, 0.1, 0.3, 0.2], np.float32))
    assert prune_weights(v, top_k=2).ids.tolist() == [2, 6]
    assert prune_weights(v, min_weight=0.15).ids.tolist() == [2, 6, 8]
    assert prune_weights(v, top_k=1, min_weight=0.15).ids.tolist() == [2]
    assert prune_weights(v).ids.tolist() == [2, 4, 6, 8]
    for bad in ({"pool_factor": 0}, {"top_k": 0}, {"min_weight": -1.0}):
        with pytest.raises(ConfigurationError):
            compress(Embeddings(), **bad)


def test_an_index_stores_reduced_documents_and_keeps_its_settings(tmp_path, fake_encoder, corpus):
    texts = [d["text"] for d in corpus[:10]]
    full = fake_encoder.encode(texts, parts="all")
    settings = {"colbert_pool_factor": 2, "sparse_top_k": 3}
    with Index.create(tmp_path / "idx", fake_encoder.identity, compression=settings) as index:
        assert index.manifest.compression == settings
        index.add([f"d{i}" for i in range(10)], full, texts=texts)
        for i, doc in enumerate(index.get([f"d{i}" for i in range(10)], with_vectors=True)):
            assert len(doc.colbert) == max(len(full.colbert[i]) // 2, 1)
            assert len(doc.sparse) == min(3, len(full.sparse[i]))
            np.testing.assert_allclose(doc.colbert, pool_rows(full.colbert[i], 2), atol=2e-3)  # float16 storage
    with pytest.raises(ConfigurationError, match="keeps its own"):
        Index.open_or_create(tmp_path / "idx", fake_encoder.identity, compression={"colbert_pool_factor": 3})
    index, created = Index.open_or_create(tmp_path / "idx", fake_encoder.identity)  # left out: the index's own
    with index:
        assert not created and index.manifest.compression == settings
    with pytest.raises(ConfigurationError, match="unknown compression"):
        Index.create(tmp_path / "other", fake_encoder.identity, compression={"pool": 2})
    queries = Embeddings(colbert=Ragged.from_arrays([full.colbert[0]]), sparse=SparseBatch.from_vectors([full.sparse[0]]))
    assert len(compress(queries).colbert[0]) == len(full.colbert[0])  # no settings: nothing changes


def test_cli_index_flags_and_eval_options(tiny_m3_path, tmp_path, capsys):
    from m3search.cli import main
    from m3search.io.jsonl import write_jsonl

    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, [{"id": f"d{i}", "text": f"Der Fluss Nummer {i} fließt lang und breit durch das Land"}
                         for i in range(4)])
    assert main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--model", str(tiny_m3_path), "-q",
                 "--colbert-pool-factor", "2", "--sparse-top-k", "4"]) == 0
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["extra"]["compression"] == {"colbert_pool_factor": 2, "sparse_top_k": 4}
    with Index.open(tmp_path / "idx") as index:
        assert all(len(d.sparse) <= 4 for d in index.get(["d0", "d1"], with_vectors=True))
    assert main(["index", str(corpus), "--index", str(tmp_path / "x"), "--model", str(tiny_m3_path), "-q",
                 "--colbert-pool-factor", "0"]) == 2
    assert "colbert_pool_factor must be an integer >= 1, got 0" in capsys.readouterr().err


def test_an_evaluation_scores_the_reduced_documents(tmp_path, fake_encoder, corpus, monkeypatch):
    from m3search.eval import runner
    from m3search.io.jsonl import write_jsonl

    beir = tmp_path / "toy"
    write_jsonl(beir / "corpus.jsonl", [{"_id": d["id"], "text": d["text"]} for d in corpus[:30]])
    write_jsonl(beir / "queries.jsonl", [{"_id": f"q{i}", "text": corpus[i]["text"][:40]} for i in range(5)])
    (beir / "qrels").mkdir()
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"q{i}\t{corpus[i]['id']}\t1\n" for i in range(5)))
    seen = []
    real = runner.compress
    monkeypatch.setattr(runner, "compress", lambda e, **kw: seen.append((len(e), kw)) or real(e, **kw))
    colbert_rows = []
    real_scores = runner.colbert_scores
    monkeypatch.setattr(runner, "colbert_scores", lambda q, d: colbert_rows.append(len(d.data)) or real_scores(q, d))
    common = {"cache": tmp_path / "cache", "modes": ["colbert", "all"]}
    plain = runner.run_beir([beir], fake_encoder, **common)
    pooled = runner.run_beir([beir], fake_encoder, **common, compression={"colbert_pool_factor": 2, "sparse_top_k": 5})
    assert seen == [(30, {"pool_factor": 2, "top_k": 5, "min_weight": None})]  # the corpus, once; queries never
    assert colbert_rows[1] <= colbert_rows[0] // 2 + 30  # the numpy rows are the pooled ones
    assert set(pooled.scores) == set(plain.scores) == {"colbert", "all"}
