"""The multi-vector first stage: an index with FDE encodings under the engine's HNSW graph, searched
by ``colbert`` (candidates by FDE, rescored exactly) and by ``all`` (dense, sparse and FDE
candidates), on both engines."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient

from m3search.errors import ConfigurationError
from m3search.index import Index, IndexOptions
from m3search.index.backends.remote import QdrantClientBackend
from m3search.search import Searcher
from tests.corpora import make_corpus
from tests.search.test_searcher import QUERIES

FDE = {"k_sim": 3, "dim_proj": 4, "reps": 4}


def _index(target, encoder, corpus, fde=FDE) -> Index:
    index = Index.create(target, encoder.identity, options=IndexOptions(fde=fde, colbert_storage="float32"))
    index.add([d["id"] for d in corpus], encoder.encode([d["text"] for d in corpus], parts="all"),
              texts=[d["text"] for d in corpus], metadata=[{"lang": d["lang"]} for d in corpus])
    return index


@pytest.fixture(params=["edge", "qdrant-client"])
def fde_index(request, tmp_path, fake_encoder):
    target = tmp_path / "idx" if request.param == "edge" else QdrantClientBackend(QdrantClient(":memory:"), "docs")
    index = _index(target, fake_encoder, make_corpus(120))
    yield index
    index.close()


def test_colbert_through_the_first_stage_rescores_exactly_and_finds_the_full_scans_hits(fde_index, fake_encoder):
    queries = fake_encoder.encode(QUERIES, role="query", parts="all")
    full_scan = Searcher(fake_encoder, fde_index).search_embeddings(queries, 120, mode="colbert", exact=True,
                                                                    fetch_documents=False)
    exact = [hits[:10] for hits in full_scan]
    exact_scores = [{h.id: h.score for h in hits} for hits in full_scan]
    # every document is a candidate: the first stage loses nothing, and the scores are the exact ones
    wide = Searcher(fake_encoder, fde_index, candidates=120).search_embeddings(queries, 10, mode="colbert",
                                                                              fetch_documents=False)
    for got, want, scores in zip(wide, exact, exact_scores):
        assert [round(h.score, 5) for h in got] == [round(h.score, 5) for h in want]
        assert all(abs(h.score - scores[h.id]) < 1e-5 for h in got)
    narrow = Searcher(fake_encoder, fde_index, candidates=40).search_embeddings(queries, 10, mode="colbert",
                                                                               fetch_documents=False)
    for hits, scores in zip(narrow, exact_scores):  # fewer candidates: the scores stay exact MaxSim scores
        assert all(abs(h.score - scores[h.id]) < 1e-5 for h in hits)
    recall = sum(len({h.id for h in n} & {h.id for h in e}) for n, e in zip(narrow, exact)) / (10 * len(QUERIES))
    assert recall >= 0.6, recall


def test_all_takes_candidates_from_the_first_stage_too_and_can_leave_them_out(fde_index, fake_encoder, tmp_path):
    queries = fake_encoder.encode(QUERIES, role="query", parts="all")
    plain = _index(tmp_path / "plain", fake_encoder, make_corpus(120), fde=None)
    without = Searcher(fake_encoder, plain, candidates=5).search_embeddings(queries, 10, mode="all", fetch_documents=False)
    left_out = Searcher(fake_encoder, fde_index, candidates=5, multi_vector_candidates=False).search_embeddings(
        queries, 10, mode="all", fetch_documents=False)
    assert [[h.id for h in hits] for hits in left_out] == [[h.id for h in hits] for hits in without]
    with_fde = Searcher(fake_encoder, fde_index, candidates=5).search_embeddings(queries, 10, mode="all",
                                                                               fetch_documents=False)
    exact = Searcher(fake_encoder, fde_index, candidates=120).search_embeddings(queries, 10, mode="all",
                                                                               fetch_documents=False)

    def recall(run):
        return sum(len({h.id for h in r} & {h.id for h in e}) for r, e in zip(run, exact))

    assert recall(with_fde) >= recall(without)  # more candidates, rescored exactly: never worse
    plain.close()


def test_every_mode_of_a_shared_first_stage_equals_its_own_search(fde_index, fake_encoder):
    ids = [f"q{i}" for i in range(len(QUERIES))]
    queries = fake_encoder.encode(QUERIES, role="query", parts="all")
    searcher = Searcher(fake_encoder, fde_index, candidates=20)
    modes = ["dense", "sparse", "colbert", "dense+sparse", "all", "rrf"]
    shared = searcher.run_modes(ids, queries, modes, k=10)
    for mode in modes:
        alone = searcher.run_embeddings(ids, queries, 10, mode=mode)
        assert shared[mode].keys() == alone.keys(), mode
        for qid in ids:
            assert shared[mode][qid] == pytest.approx(alone[qid], abs=1e-6), (mode, qid)


def test_a_filter_applies_to_the_first_stage(fde_index, fake_encoder):
    hits = Searcher(fake_encoder, fde_index, candidates=10).search(QUERIES, 5, mode="colbert", filter={"lang": "de"})
    assert hits and all(h.metadata["lang"] == "de" for row in hits for h in row)


def test_the_setting_is_recorded_checked_and_kept(tmp_path, fake_encoder):
    index = _index(tmp_path / "idx", fake_encoder, make_corpus(10))
    index.close()
    with Index.open(tmp_path / "idx") as reopened:
        assert reopened.manifest.fde == {**FDE, "seed": 42, "storage": "float16"}
        assert reopened.vectors["colbert_fde"].dim == 4 * 2**3 * 4
    with pytest.raises(ConfigurationError, match="has the multi-vector first stage"):
        Index.open_or_create(tmp_path / "idx", fake_encoder.identity, options=IndexOptions(fde={"reps": 8}))
    for bad, message in (({"k_sim": 0}, "k_sim must be a positive integer"), ({"storage": "uint8"}, "FDE storage"),
                         ({"dim_proj": 64}, "cannot exceed the multi-vector width"), ({"depth": 2}, "unknown FDE")):
        with pytest.raises(ConfigurationError, match=message):
            _index(tmp_path / f"bad-{len(message)}", fake_encoder, make_corpus(3), fde={**FDE, **bad})
    with pytest.raises(ConfigurationError, match="must hold 'colbert'"):
        Index.create(tmp_path / "dense-only", fake_encoder.identity, options=IndexOptions(parts=["dense"], fde=FDE))


def test_the_cli_builds_a_first_stage_and_searches_through_it(tiny_m3_path, tmp_path, capsys):
    from m3search.cli import main
    from m3search.io.jsonl import write_jsonl

    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, [{"id": "everest", "text": "Der Mount Everest ist 8848 m hoch."},
                         {"id": "nile", "text": "Der Nil ist ein Fluss in Afrika."},
                         {"id": "canberra", "text": "Canberra is the capital of Australia."}])
    idx = tmp_path / "idx"
    assert main(["index", str(corpus), "--index", str(idx), "--model", str(tiny_m3_path), "--fde", "3,8,4", "-q"]) == 0
    with Index.open(idx) as index:
        assert index.manifest.fde == {"k_sim": 3, "dim_proj": 8, "reps": 4, "seed": 42, "storage": "float16"}
    capsys.readouterr()
    assert main(["search", "--index", str(idx), "Wie hoch ist der Everest?", "--mode", "colbert", "--json"]) == 0
    assert '"everest"' in capsys.readouterr().out
    for flags, message in ((["--fde", "3,8"], "--fde takes three integers"), (["--fde-storage", "float32"], "needs --fde"),
                           (["--fde", "3,64,4"], "dim_proj (64) cannot exceed the multi-vector width (32)")):
        assert main(["index", str(corpus), "--index", str(tmp_path / "bad"), "--model", str(tiny_m3_path), *flags]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_the_first_stages_beam_width_reaches_the_engine(fde_index, fake_encoder):
    """``hnsw_ef`` goes to every first stage's graph search (default: twice the depth, at least
    128), never to the exact rescoring of candidates; both engines accept it."""
    sent = []
    query_batch = fde_index.backend.query_batch

    def spy(requests):
        sent.extend(requests)
        return query_batch(requests)

    fde_index.backend.query_batch = spy
    queries = fake_encoder.encode(QUERIES[:2], role="query", parts="all")
    default = Searcher(fake_encoder, fde_index, candidates=100).search_embeddings(queries, 10, mode="all",
                                                                                 fetch_documents=False)
    first = [q for q in sent if q.point_ids is None]
    assert sorted({q.using for q in first}) == ["colbert_fde", "dense", "sparse"]
    assert {q.hnsw_ef for q in first} == {200} and {q.hnsw_ef for q in sent if q.point_ids is not None} == {None}
    sent.clear()
    wide = Searcher(fake_encoder, fde_index, candidates=100, hnsw_ef=500).search_embeddings(queries, 10, mode="all",
                                                                                          fetch_documents=False)
    assert {q.hnsw_ef for q in sent if q.point_ids is None} == {500}
    assert [[h.id for h in hits] for hits in wide] == [[h.id for h in hits] for hits in default]
    sent.clear()
    Searcher(fake_encoder, fde_index, hnsw_ef=64).search_embeddings(queries, 10, mode="dense", fetch_documents=False)
    assert [q.hnsw_ef for q in sent] == [64, 64]
    with pytest.raises(ConfigurationError, match="hnsw_ef must be >= 1, got 0"):
        Searcher(fake_encoder, fde_index, hnsw_ef=0)
