"""The row kinds of the evaluation table (m3search.eval.rows), on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from m3search.eval.rows import BASELINES, ROW_KINDS, EngineRow, ExactColbertRow, RowInputs, make_row
from m3search.types import Embeddings, Ragged


def _inputs(**overrides) -> RowInputs:
    values = {"encoder": None, "query_ids": ["q"], "query_texts": ["nile river"], "queries": Embeddings(),
              "doc_ids": ["a", "b", "c"], "doc_texts": ["the Nile river", "mountains", "a river delta"],
              "documents": Embeddings(), "depth": 3}
    return RowInputs(**{**values, **overrides})


def test_names_resolve_to_their_kind_and_modes_to_the_engine():
    assert BASELINES == ("bm25", "bm25-tokens", "rrf-dense-bm25")
    assert type(make_row("colbert")) is ExactColbertRow
    row = make_row("dense+sparse")
    assert type(row) is EngineRow and row.name == "dense+sparse" and row.engine_modes == ("dense+sparse",)
    assert make_row("bm25").parts_of_modes == () and make_row("bm25").engine_modes == ()
    assert set(ROW_KINDS) == {"colbert", *BASELINES}


def test_colbert_is_scored_as_the_index_searches_it():
    """Through the engine's first stages on an index that searches ``colbert`` by candidates (an
    FDE, or the compact preset's dense and sparse candidates), exhaustively otherwise."""
    from m3search.eval.runner import _rows
    from m3search.index import IndexOptions

    def kind(options):
        return type(_rows(["colbert"], options, None)[0])

    assert kind(None) is ExactColbertRow and kind(IndexOptions(colbert_storage="uint8")) is ExactColbertRow
    assert kind(IndexOptions(compression="compact")) is EngineRow
    assert kind(IndexOptions(fde={"reps": 2})) is EngineRow
    assert kind(IndexOptions(compression="compact", colbert_search="scan")) is ExactColbertRow


def test_engine_row_reads_its_mode_run():
    inputs = _inputs(engine_runs={"all": {"q": {"b": 2.0}}, "dense": {"q": {"a": 1.0}}})
    assert make_row("all").run(inputs) == {"q": {"b": 2.0}}


def test_fusion_row_fuses_the_dense_ranking_with_word_bm25():
    inputs = _inputs(engine_runs={"dense": {"q": {"b": 0.9, "a": 0.5}}})
    assert list(make_row("bm25").run(inputs)["q"]) == ["a", "c"]  # both words, then one
    fused = make_row("rrf-dense-bm25").run(inputs)["q"]
    assert list(fused) == ["a", "b", "c"]
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62) and fused["c"] == pytest.approx(1 / 62)
    assert list(inputs.bm25) == ["words"]  # built once, shared by both rows


def test_exact_colbert_row_ranks_by_mean_maxsim():
    docs = Ragged.from_arrays([np.array([[1.0, 0.0]], np.float32), np.array([[0.6, 0.8]], np.float32),
                               np.array([[0.0, 1.0]], np.float32)], dim=2)
    query = Ragged.from_arrays([np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)], dim=2)
    run = make_row("colbert").run(_inputs(queries=Embeddings(colbert=query), documents=Embeddings(colbert=docs),
                                          depth=2))
    assert run == {"q": {"c": pytest.approx(1.0), "b": pytest.approx(0.8)}}  # mean over query vectors
