"""Search: exact rankings against brute force, fused scores against the scoring functions,
the embedded and remote backends against each other, explanations."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient

from m3search.errors import ConfigurationError
from m3search.index import QdrantClientBackend
from m3search.scoring import (
    DEFAULT_WEIGHTS,
    colbert_score,
    colbert_scores,
    combine,
    dense_scores,
    pair_scores,
    sparse_scores,
)
from m3search.search import MODES, Searcher, reciprocal_rank_fusion
from tests.corpora import build_index, make_corpus, make_queries

QUERIES = make_queries(12)


def assert_same_ranking(a, b, tol=1e-5):
    """Same scores rank by rank; the same documents, except where scores tie within ``tol``
    (engines may order exact ties differently, and a tie at the cut-off may pick either)."""
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=tol)
    score_a, score_b = {h.id: h.score for h in a}, {h.id: h.score for h in b}
    for doc_id in score_a.keys() & score_b.keys():
        assert abs(score_a[doc_id] - score_b[doc_id]) < tol, doc_id
    for doc_id in score_a.keys() ^ score_b.keys():
        score = score_a.get(doc_id, score_b.get(doc_id))
        assert abs(score - a[-1].score) < tol, f"{doc_id} is in only one result and not tied at the cut-off"


def brute_force(fake_encoder, corpus, queries):
    docs = fake_encoder.encode([d["text"] for d in corpus], parts="all")
    q = fake_encoder.encode(queries, parts="all", role="query")
    return {"dense": dense_scores(q.dense, docs.dense), "sparse": sparse_scores(q.sparse, docs.sparse),
            "colbert": colbert_scores(q.colbert, docs.colbert)}


@pytest.mark.parametrize("mode", ["dense", "sparse", "colbert"])
def test_exact_single_mode_rankings_equal_numpy(index, fake_encoder, corpus, mode):
    expected = brute_force(fake_encoder, corpus, QUERIES)[mode]
    hits = Searcher(fake_encoder, index).search(QUERIES, k=10, mode=mode, exact=True)
    for i, result in enumerate(hits):
        ids = [h.id for h in result]
        scores = np.array([h.score for h in result])
        ref_scores = expected[i][[int(x.split("-")[1]) for x in ids]]
        np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
        positive = np.sort(expected[i][expected[i] > 0])[::-1] if mode == "sparse" else np.sort(expected[i])[::-1]
        np.testing.assert_allclose(scores, positive[:10], atol=1e-5)  # the k best scores, in order


@pytest.mark.parametrize("mode", ["dense+sparse", "all"])
def test_fused_scores_equal_the_scoring_functions_on_the_same_pairs(index, fake_encoder, corpus, mode):
    searcher = Searcher(fake_encoder, index, candidates=200)  # every document is a candidate
    q = fake_encoder.encode(QUERIES, parts="all", role="query")
    by_id = {d["id"]: d["text"] for d in corpus}
    for i, result in enumerate(searcher.search(QUERIES, k=5, mode=mode)):
        docs = fake_encoder.encode([by_id[h.id] for h in result], parts="all")
        pairs = pair_scores(q.take([i] * len(result)), docs, DEFAULT_WEIGHTS)
        key = "sparse+dense" if mode == "dense+sparse" else "colbert+sparse+dense"
        np.testing.assert_allclose([h.score for h in result], pairs[key], atol=1e-5)
        for part in ("dense", "sparse") + (("colbert",) if mode == "all" else ()):
            np.testing.assert_allclose([h.scores[part] for h in result], pairs[part], atol=1e-5)
        assert [h.score for h in result] == sorted((h.score for h in result), reverse=True)


def test_all_with_full_depth_equals_brute_force_ranking(index, fake_encoder, corpus):
    expected = brute_force(fake_encoder, corpus, QUERIES)
    final = combine(expected, DEFAULT_WEIGHTS)
    hits = Searcher(fake_encoder, index, candidates=len(corpus)).search(QUERIES, k=5, mode="all")
    for i, result in enumerate(hits):
        np.testing.assert_allclose([h.score for h in result], np.sort(final[i])[::-1][:5], atol=1e-5)


def test_float16_multivector_storage_stays_close(tmp_path, fake_encoder, corpus):
    idx = build_index(tmp_path / "f16", fake_encoder, corpus)  # default storage: float16
    expected = brute_force(fake_encoder, corpus, QUERIES)["colbert"]
    for i, result in enumerate(Searcher(fake_encoder, idx).search(QUERIES, k=5, mode="colbert")):
        ref = expected[i][[int(h.id.split("-")[1]) for h in result]]
        np.testing.assert_allclose([h.score for h in result], ref, atol=2e-3)
    idx.close()


def test_filters_restrict_every_mode(index, fake_encoder):
    for mode in MODES:
        for result in Searcher(fake_encoder, index).search(QUERIES[:3], k=5, mode=mode, filter={"lang": "de"}):
            assert result and all(h.metadata == {"lang": "de"} for h in result), mode


def test_rrf_equals_reciprocal_rank_fusion_of_the_engine_lists(index, fake_encoder):
    searcher = Searcher(fake_encoder, index, candidates=20)
    result = searcher.search(QUERIES[:1], k=5, mode="rrf")[0]
    assert len(result) == 5 and all(set(h.scores) == {"dense", "sparse", "colbert"} for h in result)
    query = fake_encoder.encode(QUERIES[:1], role="query", parts="all")
    dense = [s.doc_id for s in index.query("dense", query, 20)[0]]
    sparse = [s.doc_id for s in index.query("sparse", query, 20)[0]]
    union = list(dict.fromkeys(dense + sparse))
    docs = {d.id: d for d in index.get(union, with_vectors=True)}
    maxsim = {d: colbert_score(query.colbert[0], docs[d].colbert) for d in union}
    by_colbert = sorted(union, key=lambda d: (-round(maxsim[d], 6), d))
    expected = reciprocal_rank_fusion([dense, sparse, by_colbert], k=60)
    best = sorted(expected, key=lambda d: (-expected[d], d))[:5]
    assert [h.id for h in result] == best
    assert [h.score for h in result] == pytest.approx([expected[d] for d in best], abs=1e-12)


def test_run_equals_search(index, fake_encoder):
    searcher = Searcher(fake_encoder, index)
    run = searcher.run({"q1": QUERIES[0], "q2": QUERIES[1]}, k=4)
    hits = searcher.search(QUERIES[:2], k=4)
    assert run == {qid: {h.id: h.score for h in result} for qid, result in zip(["q1", "q2"], hits)}
    assert all(len(v) == 4 and all(isinstance(s, float) for s in v.values()) for v in run.values())
    encoded = fake_encoder.encode(QUERIES[:2], role="query", parts="all")
    assert searcher.run_embeddings(["q1", "q2"], encoded, k=4) == run


def test_run_modes_shares_the_first_stage_and_equals_one_run_per_mode(index, fake_encoder, monkeypatch):
    searcher = Searcher(fake_encoder, index, candidates=30)
    ids = [f"q{i}" for i in range(len(QUERIES))]
    encoded = fake_encoder.encode(QUERIES, role="query", parts="all")
    modes = list(MODES)
    one_by_one = {mode: searcher.run_embeddings(ids, encoded, k=30, mode=mode) for mode in modes}
    calls = []
    query_batch = index.backend.query_batch
    monkeypatch.setattr(index.backend, "query_batch",
                        lambda requests: calls.append(sorted({r.using for r in requests})) or query_batch(requests))
    shared = searcher.run_modes(ids, encoded, modes, k=30)
    assert list(shared) == modes
    for mode in modes:
        for qid in ids:
            assert shared[mode][qid] == pytest.approx(one_by_one[mode][qid], abs=1e-6), (mode, qid)
    # three engine round trips: colbert alone; the shared stage's dense and sparse candidates in one;
    # all of its rescoring in one (every part, only the candidates whose score is not known yet)
    assert calls == [["colbert"], ["dense", "sparse"], ["colbert", "dense", "sparse"]]


def test_a_fused_search_makes_two_engine_round_trips_and_equals_brute_force(index, fake_encoder, corpus, monkeypatch):
    from m3search.scoring import colbert_scores, dense_scores, sparse_scores

    encoded = fake_encoder.encode(QUERIES, role="query", parts="all")
    calls = []
    query_batch = index.backend.query_batch
    monkeypatch.setattr(index.backend, "query_batch", lambda requests: calls.append(len(requests)) or query_batch(requests))
    hits = Searcher(fake_encoder, index, candidates=20).search_embeddings(encoded, k=5, mode="all", fetch_documents=False)
    assert len(calls) == 2
    documents = fake_encoder.encode([d["text"] for d in corpus], parts="all")
    position = {d["id"]: j for j, d in enumerate(corpus)}
    exact = {"dense": dense_scores(encoded.dense, documents.dense), "sparse": sparse_scores(encoded.sparse, documents.sparse),
             "colbert": colbert_scores(encoded.colbert, documents.colbert)}
    for i, row in enumerate(hits):
        for hit in row:  # every part's score of every hit is the exact one, whichever stage found it
            for part, matrix in exact.items():
                assert hit.scores[part] == pytest.approx(float(matrix[i, position[hit.id]]), abs=1e-5)


@pytest.mark.parametrize("mode", ["dense+sparse", "all"])
def test_a_weighted_fused_search_reads_document_ids_of_the_final_k_only(index, fake_encoder, monkeypatch, mode):
    encoded = fake_encoder.encode(QUERIES, role="query", parts="all")
    ids = [f"q{i}" for i in range(len(QUERIES))]
    expected = Searcher(fake_encoder, index, candidates=20).run_modes(ids, encoded, [mode], k=5)[mode]  # reads every id
    asked_ids, read = [], []
    query_batch, retrieve = index.backend.query_batch, index.backend.retrieve
    monkeypatch.setattr(index.backend, "query_batch",
                        lambda requests: asked_ids.extend(r.with_doc_ids for r in requests) or query_batch(requests))
    monkeypatch.setattr(index.backend, "retrieve",
                        lambda pids, vectors, fields=None: read.append((len(pids), fields)) or retrieve(pids, vectors, fields))
    hits = Searcher(fake_encoder, index, candidates=20).search_embeddings(encoded, k=5, mode=mode, fetch_documents=False)
    assert not any(asked_ids)  # no candidate's payload is read by the engine queries
    assert len(read) == 1 and read[0][1] == ["id"] and read[0][0] <= 5 * len(QUERIES) + 5  # the final k (and ties)
    assert [[h.id for h in row] for row in hits] == [list(expected[qid]) for qid in ids]
    assert [[h.score for h in row] for row in hits] == [pytest.approx(list(expected[qid].values())) for qid in ids]


def test_ties_at_the_cut_off_go_to_the_smallest_document_id_as_in_brute_force(tmp_path, fake_encoder):
    twins = [{"id": f"twin-{c}", "text": "river delta island", "lang": "en"} for c in "dcbea"]
    idx = build_index(tmp_path / "ties", fake_encoder, make_corpus(30) + twins, colbert_storage="float32")
    encoded = fake_encoder.encode(["river delta island"], role="query", parts="all")
    for mode in ("dense+sparse", "all"):
        hits = Searcher(fake_encoder, idx, candidates=40).search_embeddings(encoded, k=3, mode=mode, fetch_documents=False)
        assert [h.id for h in hits[0]] == ["twin-a", "twin-b", "twin-c"], mode
    idx.close()


def test_an_in_memory_colbert_scorer_gives_the_engines_rescoring(index, fake_encoder, corpus, monkeypatch):
    from m3search.eval.runner import colbert_scorer

    ids = [f"q{i}" for i in range(len(QUERIES))]
    encoded = fake_encoder.encode(QUERIES, role="query", parts="all")
    engine = Searcher(fake_encoder, index, candidates=30).run_modes(ids, encoded, ["all", "rrf"], k=30)
    documents = fake_encoder.encode([d["text"] for d in corpus], parts="all")
    scorer = colbert_scorer([d["id"] for d in corpus], documents)
    calls = []
    query = index.query
    monkeypatch.setattr(index, "query", lambda part, *a, **kw: calls.append(part) or query(part, *a, **kw))
    in_memory = Searcher(fake_encoder, index, candidates=30, colbert_scorer=scorer).run_modes(ids, encoded, ["all", "rrf"], k=30)
    assert "colbert" not in calls  # the multi-vector rescoring left the engine
    for mode in ("all", "rrf"):
        for qid in ids:
            assert in_memory[mode][qid] == pytest.approx(engine[mode][qid], abs=1e-5), (mode, qid)


def test_explain_names_shared_tokens_and_best_matches(index, fake_encoder, corpus):
    query = corpus[5]["text"].split()[0] + " " + corpus[5]["text"].split()[1]
    hit = Searcher(fake_encoder, index).search([query], k=1, explain=True)[0][0]
    shared = set(fake_encoder.tokenize([query])[0][1:-1]) & set(fake_encoder.tokenize([hit.text])[0][1:-1])
    assert {m.query_token for m in hit.explanation.sparse} == {f"t{t}" for t in shared}
    assert len(hit.explanation.colbert) == len(fake_encoder.tokenize([query])[0]) - 1
    assert all(-1.0001 <= m.score <= 1.0001 for m in hit.explanation.colbert)


def test_bad_modes_and_arguments(index, fake_encoder):
    searcher = Searcher(fake_encoder, index)
    assert searcher.mode == "all"
    with pytest.raises(ConfigurationError, match="unknown mode 'hybrid'"):
        searcher.search(["x"], mode="hybrid")
    with pytest.raises(TypeError, match="single string"):
        searcher.search("x")
    with pytest.raises(ConfigurationError, match="k must be >= 1"):
        searcher.search(["x"], k=0)


@pytest.mark.parametrize("mode", MODES)
def test_embedded_and_remote_backends_return_the_same_hits(tmp_path, fake_encoder, mode):
    corpus = make_corpus(80, seed=3)
    edge = build_index(tmp_path / "edge", fake_encoder, corpus, colbert_storage="float32")
    remote = build_index(QdrantClientBackend(QdrantClient(":memory:"), "docs"), fake_encoder, corpus,
                         colbert_storage="float32")
    assert remote.count() == edge.count() == 80
    a = Searcher(fake_encoder, edge).search(QUERIES, k=8, mode=mode, exact=True)
    b = Searcher(fake_encoder, remote).search(QUERIES, k=8, mode=mode, exact=True)
    for ha, hb in zip(a, b):
        assert_same_ranking(ha, hb)
    edge.close()
    remote.close()


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_uint8_multivector_storage_keeps_maxsim_close_on_both_backends(tmp_path, fake_encoder, corpus, codec,
                                                                       monkeypatch):
    """Every row layout (1 and 2: what indexes built before layout 3 hold) scores MaxSim exactly
    up to rounding; an index records its layout (layout 2: two bytes beyond the width, not ten;
    layout 3: one)."""
    from m3search.index import codecs

    monkeypatch.setattr(codecs, "CURRENT_CODEC", codec)
    expected = brute_force(fake_encoder, corpus, QUERIES)["colbert"]
    edge = build_index(tmp_path / "u8", fake_encoder, corpus, colbert_storage="uint8")
    remote = build_index(QdrantClientBackend(QdrantClient(":memory:"), "u8"), fake_encoder, corpus, colbert_storage="uint8")
    monkeypatch.setattr(codecs, "CURRENT_CODEC", 1 + codec % 4)  # what another version writes does not change this index
    assert edge.manifest.uint8_codec == codec and edge.manifest.extra["uint8_codec"] == codec
    width = edge.manifest.colbert_dim
    assert edge.manifest.colbert_stored_dim == width + {1: codecs.extra_dims(width, 1), 2: 2, 3: 1, 4: 1}[codec]
    results = {}
    for name, idx in (("edge", edge), ("remote", remote)):
        results[name] = Searcher(fake_encoder, idx).search(QUERIES, k=5, mode="colbert", exact=True)
        for i, result in enumerate(results[name]):
            ref = expected[i][[int(h.id.split("-")[1]) for h in result]]
            np.testing.assert_allclose([h.score for h in result], ref, atol=5e-3)
            np.testing.assert_allclose([h.score for h in result], np.sort(expected[i])[::-1][:5], atol=5e-3)
    for a, b in zip(results["edge"], results["remote"]):
        assert_same_ranking(a, b)
    doc = edge.get(["doc-1"], with_vectors=True)[0]
    # each code is within half a step (1/254) of the row; layout 2's reflection back spreads those errors over
    # the components, so one component can be further off (the row's length and its dot products are not)
    np.testing.assert_allclose(doc.colbert, fake_encoder.encode([corpus[1]["text"]], parts="all").colbert[0],
                               atol={1: 1 / 254, 2: 1e-2, 3: 1e-2, 4: 1e-2}[codec])
    edge.close()
    remote.close()


def test_documents_encoded_in_windows_get_the_windows_fusion_weights_by_default(tmp_path):
    from m3search.index import Index
    from m3search.scoring import WINDOWS_WEIGHTS, default_weights

    plain = Index.create(tmp_path / "plain", {"name": "toy", "dim": 2, "parts": ["dense"]})
    windowed = Index.create(tmp_path / "windowed", {"name": "toy", "dim": 2, "parts": ["dense"],
                                                     "long": {"long_strategy": "windows", "window_stride": 448}})
    try:
        assert Searcher(None, plain).weights == DEFAULT_WEIGHTS
        assert Searcher(None, windowed).weights == WINDOWS_WEIGHTS == default_weights(windowed.manifest.encoder)
        assert Searcher(None, windowed, weights={"dense": 1.0}).weights == {"dense": 1.0}
        assert default_weights({"long": {"long_strategy": "mcls"}}) == DEFAULT_WEIGHTS
    finally:
        plain.close()
        windowed.close()
