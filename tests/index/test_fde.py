"""Fixed dimensional encodings (MUVERA): equal to fastembed's for the same seed, a first stage whose
candidates hold the exact multi-vector top 10, and bad parameters refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from m3search.errors import ConfigurationError
from m3search.index.fde import FDE, FDEParams
from m3search.scoring import colbert_scores
from m3search.types import Ragged


def _sets(n: int, dim: int, seed: int, low: int = 1, high: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        rows = rng.normal(size=(int(rng.integers(low, high)), dim)).astype(np.float32)
        out.append(rows / np.linalg.norm(rows, axis=1, keepdims=True))
    return out


GOLDENS = Path(__file__).resolve().parents[1] / "fixtures" / "fde-goldens.npz"  # scripts/make_fde_goldens.py


@pytest.mark.parametrize("key", ["4-8-8", "3-16-4", "2-4-5", "5-8-4", "2-32-2"])
def test_encodings_equal_fastembeds_muvera(key):
    goldens = np.load(GOLDENS)
    sets = np.split(goldens["rows"], np.cumsum(goldens["lengths"])[:-1])
    k_sim, dim_proj, reps = map(int, key.split("-"))
    ours = FDE(32, k_sim, dim_proj, reps, seed=int(goldens["seed"]))
    docs, queries = ours.documents(Ragged.from_arrays(sets)), ours.queries(Ragged.from_arrays(sets))
    assert docs.shape == (10, reps * 2**k_sim * dim_proj) and docs.dtype == np.float32
    np.testing.assert_allclose(docs, goldens[f"documents/{key}"], atol=2e-5)
    np.testing.assert_allclose(queries, goldens[f"queries/{key}"], atol=2e-5)


def test_a_query_made_of_a_documents_rows_finds_that_document_through_the_encoding():
    dim, rng = 64, np.random.default_rng(3)
    docs = _sets(2000, dim, seed=11, low=20, high=80)
    sources = rng.choice(len(docs), size=50, replace=False)
    queries = []
    for s in sources:  # 8 of the document's rows, perturbed
        rows = docs[s][rng.integers(0, len(docs[s]), size=8)] + 0.3 * rng.normal(size=(8, dim)) / np.sqrt(dim)
        queries.append((rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32))
    D, Q = Ragged.from_arrays(docs), Ragged.from_arrays(queries)
    fde = FDE(dim, k_sim=4, dim_proj=16, reps=16)
    approx = fde.queries(Q) @ fde.documents(D).T
    exact = colbert_scores(Q, D)
    assert all(int(np.argmax(exact[i])) == s for i, s in enumerate(sources))  # the exact scan finds it
    found = np.mean([s in np.argsort(-approx[i])[:10] for i, s in enumerate(sources)])
    assert found >= 0.95, found
    # random matrices, not a guess: the encoding's score follows the exact Chamfer score
    assert np.corrcoef(exact.ravel(), approx.ravel())[0, 1] > 0.2


def test_documents_are_encoded_alone_whatever_their_batch():
    sets = _sets(12, 16, seed=5)
    fde = FDE(16, k_sim=3, dim_proj=4, reps=4)
    whole = fde.documents(Ragged.from_arrays(sets))
    parts = np.concatenate([fde.documents(Ragged.from_arrays(sets[:5])), fde.documents(Ragged.from_arrays(sets[5:]))])
    np.testing.assert_allclose(whole, parts, atol=1e-6)


@pytest.mark.parametrize(("settings", "message"), [
    ({"k_sim": 0}, "FDE k_sim must be a positive integer, got 0"),
    ({"k_sim": 11}, "FDE k_sim must be at most 10"),
    ({"dim_proj": 64}, "FDE dim_proj (64) cannot exceed the multi-vector width (32)"),
    ({"reps": True}, "FDE reps must be a positive integer, got True"),
    ({"reps": 2.5}, "FDE reps must be a positive integer, got 2.5"),
])
def test_bad_parameters_are_refused_naming_the_value(settings, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FDE(32, **settings)


def test_rows_of_another_width_and_empty_documents_are_refused():
    fde = FDE(8, k_sim=2, dim_proj=4, reps=2)
    with pytest.raises(ConfigurationError, match="built for 8-d multi-vectors, got 4-d rows"):
        fde.documents(Ragged.from_arrays([np.ones((2, 4), np.float32)]))
    with pytest.raises(ConfigurationError, match="multi-vector 1 has no rows"):
        fde.documents(Ragged.from_arrays([np.ones((2, 8), np.float32), np.zeros((0, 8), np.float32)]))


def test_params_record_the_output_size():
    assert FDEParams(k_sim=4, dim_proj=8, reps=8).output_dim() == 1024
    assert FDE.from_params(384, FDEParams(3, 16, 4)).dim == 4 * 8 * 16


def test_colbert_can_take_candidates_from_every_first_stage(tmp_path, fake_encoder):
    from m3search.errors import ConfigurationError
    from m3search.index import Index, IndexOptions
    from m3search.search import Searcher
    from tests.corpora import make_corpus

    corpus = make_corpus(200)
    index = Index.create(tmp_path / "idx", fake_encoder.identity,
                         options=IndexOptions(fde={"k_sim": 2, "dim_proj": 4, "reps": 2}))
    texts = [d["text"] for d in corpus]
    index.add([d["id"] for d in corpus], fake_encoder.encode(texts, parts="all"), texts=texts)
    index.optimize()
    queries = texts[:20]
    exact = Searcher(fake_encoder, index).search(queries, k=10, mode="colbert", exact=True)
    narrow = Searcher(fake_encoder, index, candidates=10, colbert_stages=("colbert_fde",))
    wide = Searcher(fake_encoder, index, candidates=10)  # the default: every first stage
    assert wide.query_parts("colbert") == ("dense", "sparse", "colbert") and narrow.query_parts("colbert") == ("colbert",)

    def recall(searcher):
        found = searcher.search(queries, k=10, mode="colbert")
        return sum(len({h.id for h in f} & {h.id for h in e}) for f, e in zip(found, exact)) / 200

    assert recall(wide) >= recall(narrow) and recall(wide) > 0.5
    for hits in wide.search(queries[:3], k=5, mode="colbert"):  # exact multi-vector scores of the candidates
        assert all(h.score == pytest.approx(h.scores["colbert"]) for h in hits), [(h.score, h.scores) for h in hits]
    with pytest.raises(ConfigurationError, match=r"colbert_stages must be first stages of this index .*got \['bm25'\]"):
        Searcher(fake_encoder, index, colbert_stages=("bm25",))
    index.close()
    # an index without an FDE: colbert scans every document, or takes the dense and sparse candidates
    plain = Index.create(tmp_path / "plain", fake_encoder.identity)
    plain.add([d["id"] for d in corpus], fake_encoder.encode(texts, parts="all"), texts=texts)
    scan = Searcher(fake_encoder, plain).search(queries, k=10, mode="colbert")
    assert [[round(h.score, 4) for h in s] for s in scan] == [[round(h.score, 4) for h in e] for e in exact]  # ties: any order
    lexical = Searcher(fake_encoder, plain, candidates=10, colbert_stages=("dense", "sparse"))
    assert lexical.query_parts("colbert") == ("dense", "sparse", "colbert")
    assert recall(lexical) > 0.5
    for hits in lexical.search(queries[:3], k=5, mode="colbert"):
        assert all(h.score == pytest.approx(h.scores["colbert"]) for h in hits)
    with pytest.raises(ConfigurationError, match=r"first stages of this index \(\['dense', 'sparse'\]\); got \['colbert_fde'\]"):
        Searcher(fake_encoder, plain, colbert_stages=("colbert_fde",))
    plain.close()
