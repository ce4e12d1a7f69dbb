"""Evaluating what an index built with given settings returns (``run_beir(index_options=...)``):
the rows read the multi-vectors as stored, and ``colbert`` retrieves through an FDE first stage."""

from __future__ import annotations

import numpy as np
import pytest

from m3search.eval.runner import as_stored, run_beir
from m3search.index import IndexOptions
from m3search.scoring import colbert_scores
from m3search.search.searcher import Searcher
from m3search.types import Embeddings, Ragged

from .eval_fixtures import write_tiny_beir


def test_as_stored_rounds_multi_vectors_as_each_storage_reads_them_back():
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=(n, 16)).astype(np.float32) for n in (3, 5)]
    rows = [r / np.linalg.norm(r, axis=1, keepdims=True) for r in rows]
    e = Embeddings(colbert=Ragged.from_arrays(rows))
    query = Ragged.from_arrays([rows[0][:2]])
    exact = colbert_scores(query, e.colbert)
    assert as_stored(e, "float32") is e
    for storage, tolerance in (("float16", 1e-3), ("uint8", 2e-2)):
        stored = as_stored(e, storage)
        assert stored.colbert.offsets.tolist() == e.colbert.offsets.tolist()
        assert not np.array_equal(stored.colbert.data, e.colbert.data)
        np.testing.assert_allclose(colbert_scores(query, stored.colbert), exact, atol=tolerance)


def test_an_fde_index_retrieves_colbert_through_its_first_stage(tmp_path, fake_encoder, monkeypatch):
    beir = write_tiny_beir(tmp_path / "tiny")
    seen: list[tuple[str, ...]] = []
    first_stage = Searcher._first_stage

    def recording(self, *args, stages: tuple[str, ...], **kwargs):
        seen.append(tuple(stages))
        return first_stage(self, *args, stages=stages, **kwargs)

    monkeypatch.setattr(Searcher, "_first_stage", recording)
    plain = run_beir([beir], fake_encoder, cache=tmp_path / "cache", modes=["colbert", "all"])
    assert ("colbert_fde",) not in seen
    options = IndexOptions(colbert_storage="float32", fde={"k_sim": 2, "dim_proj": 8, "reps": 4},
                           quantization={"vectors": {"dense": "int8"}})
    through = run_beir([beir], fake_encoder, cache=tmp_path / "cache", modes=["colbert", "all"], index_options=options)
    assert ("colbert_fde", "dense", "sparse") in seen and ("dense", "sparse", "colbert_fde") in seen  # colbert, all
    # eight documents, 100 candidates: the first stage finds them all, rescored exactly
    for mode in ("colbert", "all"):
        assert through.scores[mode]["tiny"]["nDCG@10"] == pytest.approx(plain.scores[mode]["tiny"]["nDCG@10"])


def test_uint8_storage_and_pooling_reach_the_scores(tmp_path, fake_encoder):
    beir = write_tiny_beir(tmp_path / "tiny")
    pooled = run_beir([beir], fake_encoder, cache=tmp_path / "cache", modes=["colbert"],
                      index_options=IndexOptions(colbert_storage="uint8", compression={"colbert_pool_factor": 2}))
    same = run_beir([beir], fake_encoder, cache=tmp_path / "cache", modes=["colbert"],
                    compression={"colbert_pool_factor": 2})
    a = pooled.per_query["colbert"]["nDCG@10"]
    b = same.per_query["colbert"]["nDCG@10"]
    assert a.keys() == b.keys() and max(abs(a[q] - b[q]) for q in a) < 0.2  # rounding may swap near-ties only
