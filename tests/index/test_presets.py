"""``compression="compact"``: a preset fills the storage options left unset, bounds the
multi-vector width, is recorded in the manifest, and works on both engines and from the CLI."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient, models

from m3search.cli import main
from m3search.errors import ConfigurationError
from m3search.index import Index, IndexOptions
from m3search.index.backends.remote import QdrantClientBackend
from m3search.index.presets import PRESETS
from m3search.search import Searcher
from tests.corpora import make_corpus
from tests.fakes import FakeEncoder

COMPACT = PRESETS["compact"]


def test_the_preset_fills_what_is_unset_and_a_given_option_wins():
    options = IndexOptions(compression="compact")
    assert options.preset == "compact"
    assert options.colbert_storage == COMPACT.colbert_storage and options.compression == dict(COMPACT.compression)
    assert options.fde is None and options.colbert_search == "candidates"
    assert options.hnsw == {"m": 32, "ef_construct": 200} and options.dense_storage == "uint8"
    assert IndexOptions(compression="compact", dense_storage="float32").dense_storage == "float32"
    assert IndexOptions(compression="compact", hnsw={"m": 16}).hnsw == {"m": 16, "ef_construct": 100}
    assert IndexOptions(compression="compact", colbert_storage="float16").colbert_storage == "float16"
    assert IndexOptions.of(options, compression={"colbert_pool_factor": 3}).compression == {"colbert_pool_factor": 3}
    with pytest.raises(ConfigurationError, match="unknown compression preset 'smallest'; known: \\['compact'\\]"):
        IndexOptions(compression="smallest")


def test_a_compact_index_records_the_preset_and_searches_through_its_first_stage(tmp_path, fake_encoder):
    corpus = make_corpus(120)
    index = Index.create(tmp_path / "idx", fake_encoder.identity, options=IndexOptions(compression="compact"))
    embeddings = fake_encoder.encode([d["text"] for d in corpus], parts="all")
    index.add([d["id"] for d in corpus], embeddings)
    assert index.manifest.extra["preset"] == "compact" and index.manifest.colbert_storage == "uint8"
    assert "colbert_fde" not in index.vectors and index.manifest.compression == dict(COMPACT.compression)
    assert index.manifest.colbert_search == "candidates"
    assert index.manifest.hnsw == (32, 200) and index.manifest.dense_storage == "uint8"
    index.close()
    again, created = Index.open_or_create(tmp_path / "idx", fake_encoder.identity,
                                          options=IndexOptions(compression="compact"))
    assert not created
    with again:
        searcher = Searcher(fake_encoder, again, candidates=120)
        hits = searcher.search([corpus[7]["text"]], 3, mode="colbert")[0]
        assert hits[0].id == "doc-7"
        assert searcher.search([corpus[7]["text"]], 3, mode="all")[0][0].id == "doc-7"
    with pytest.raises(ConfigurationError, match="stores multi-vectors as uint8, not float32"):
        Index.open_or_create(tmp_path / "idx", fake_encoder.identity, options=IndexOptions(colbert_storage="float32"))


def test_an_encoder_wider_than_the_preset_is_refused_before_anything_is_written(tmp_path):
    wide = FakeEncoder(colbert_dim=256)
    with pytest.raises(ConfigurationError, match="at most 128 wide, and this encoder's are 256"):
        Index.create(tmp_path / "idx", wide.identity, options=IndexOptions(compression="compact"))
    assert not (tmp_path / "idx").exists()


def test_a_server_collection_is_laid_out_by_the_preset(fake_encoder):
    client = QdrantClient(":memory:")
    index = Index.create(QdrantClientBackend(client, "docs"), fake_encoder.identity,
                         options=IndexOptions(compression="compact"))
    vectors = client.get_collection("docs").config.params.vectors
    assert vectors["colbert"].datatype == models.Datatype.UINT8 and "colbert_fde" not in vectors
    assert index.manifest.extra["preset"] == "compact" and index.manifest.colbert_search == "candidates"
    index.close()


def test_colbert_on_a_compact_index_rescores_the_dense_and_sparse_candidates(tmp_path, fake_encoder):
    """The preset stores no FDE (on real rows it added 0.003 of colbert's exact top 10 for 1 KB per
    document): ``colbert`` takes the dense and sparse candidates and rescores them exactly, as
    ``colbert_stages=("dense", "sparse")`` does; ``colbert_search="scan"`` or ``exact`` scans."""
    corpus = make_corpus(150)
    texts = [d["text"] for d in corpus]
    embeddings = fake_encoder.encode(texts, parts="all")
    queries = [t[::-1] for t in texts[:12]]  # reversed: no query is its own document
    found = {}
    for name, options in (("compact", IndexOptions(compression="compact")),
                          ("scan", IndexOptions(compression="compact", colbert_search="scan"))):
        with Index.create(tmp_path / name, fake_encoder.identity, options=options) as index:
            index.add([d["id"] for d in corpus], embeddings)
            default = Searcher(fake_encoder, index, candidates=5)
            spelled = Searcher(fake_encoder, index, candidates=5, colbert_stages=("dense", "sparse"))
            found[name] = [[h.id for h in hits] for hits in default.search(queries, 10, mode="colbert")]
            found[name + " exact"] = [[h.id for h in hits] for hits in default.search(queries, 10, mode="colbert",
                                                                                      exact=True)]
            found[name + " spelled"] = [[h.id for h in hits] for hits in spelled.search(queries, 10, mode="colbert")]
            assert default.query_parts("colbert") == (("dense", "sparse", "colbert") if name == "compact" else ("colbert",))
            rows_only = fake_encoder.encode(queries[:2], role="query", parts="colbert")
            if name == "compact":  # candidates need the parts they are found by: no silent scan
                with pytest.raises(ConfigurationError, match=r"by candidates of \['dense', 'sparse'\], and the "
                                   r"query embeddings lack their \['dense', 'sparse'\] part"):
                    default.search_embeddings(rows_only, 10, mode="colbert")
            exact = default.search_embeddings(rows_only, 10, mode="colbert", exact=True, fetch_documents=False)
            assert [[h.id for h in hits] for hits in exact] == found[name + " exact"][:2]
    assert found["compact"] == found["compact spelled"] == found["scan spelled"]
    assert found["scan"] == found["scan exact"] == found["compact exact"]
    assert found["compact"] != found["scan"]  # 5 candidates per first stage: not the whole scan's top 10
    assert all(len(hits) <= 10 for hits in found["compact"])


def test_colbert_search_is_checked_recorded_and_kept(tmp_path, fake_encoder):
    with pytest.raises(ConfigurationError, match="colbert_search must be one of \\('candidates', 'scan'\\), got 'fde'"):
        IndexOptions(colbert_search="fde")
    with pytest.raises(ConfigurationError, match=r"colbert_search='candidates' \(--colbert-search candidates\) needs a first stage"):
        IndexOptions(parts=["colbert"], colbert_search="candidates").manifest(fake_encoder.identity)
    with pytest.raises(ConfigurationError, match="colbert_search='scan' .*the index holds no multi-vectors"):
        IndexOptions(parts=["dense"], colbert_search="scan").manifest(fake_encoder.identity)
    assert "colbert_search" not in IndexOptions(compression="compact", parts=["dense"]).manifest(fake_encoder.identity).extra
    # the preset's is moot on an index without a first stage, as its dense storage is
    alone = IndexOptions(compression="compact", parts=["colbert"]).manifest(fake_encoder.identity)
    assert "colbert_search" not in alone.extra and alone.colbert_search == "scan"
    plain = Index.create(tmp_path / "idx", fake_encoder.identity, options=IndexOptions())
    assert plain.manifest.colbert_search == "scan"
    plain.close()
    same, created = Index.open_or_create(tmp_path / "idx", fake_encoder.identity,
                                         options=IndexOptions(colbert_search="scan"))  # its default: the same
    assert not created
    same.close()
    with pytest.raises(ConfigurationError, match="searches colbert by 'scan', not 'candidates'"):
        Index.open_or_create(tmp_path / "idx", fake_encoder.identity, options=IndexOptions(colbert_search="candidates"))
    with Index.open(tmp_path / "idx") as index:
        assert index.manifest.colbert_search == "scan"  # nothing stored was touched
    from m3search.errors import IndexFormatError
    from m3search.index.manifest import Manifest

    with pytest.raises(IndexFormatError, match="records colbert_search='fde', which this m3search does not know"):
        _ = Manifest(encoder=fake_encoder.identity, parts=("dense",), extra={"colbert_search": "fde"}).colbert_search


def test_an_index_built_by_the_preset_with_an_fde_keeps_it_when_extended(tmp_path, fake_encoder):
    """The preset stored an FDE first stage until it dropped it: such an index, extended with
    ``compression="compact"``, keeps its FDE (new documents get their encodings) and ``colbert``
    keeps searching through every first stage."""
    corpus = make_corpus(60)
    texts = [d["text"] for d in corpus]
    earlier = IndexOptions.of(IndexOptions(compression="compact"), fde={"k_sim": 3, "dim_proj": 8, "reps": 8})
    earlier = IndexOptions.of(earlier, preset_filled=(*earlier.preset_filled, "fde"))  # as the preset filled it
    assert "colbert_search" in earlier.preset_filled
    index = Index.create(tmp_path / "idx", fake_encoder.identity, options=earlier)
    index.manifest.extra.pop("colbert_search")  # an earlier m3search recorded none
    index.add([d["id"] for d in corpus[:30]], fake_encoder.encode(texts[:30], parts="all"))
    index.close()
    with Index.open(tmp_path / "idx") as written:
        assert "colbert_search" not in written.manifest.extra and written.manifest.fde is not None
    again, created = Index.open_or_create(tmp_path / "idx", fake_encoder.identity,
                                          options=IndexOptions(compression="compact"))
    assert not created and "colbert_fde" in again.vectors and again.manifest.colbert_search == "candidates"
    again.add([d["id"] for d in corpus[30:]], fake_encoder.encode(texts[30:], parts="all"))
    searcher = Searcher(fake_encoder, again, candidates=5)
    assert searcher.query_parts("colbert") == ("dense", "sparse", "colbert")
    assert searcher.search([texts[45]], 1, mode="colbert")[0][0].id == corpus[45]["id"]
    again.close()
    with pytest.raises(ConfigurationError, match="searches colbert by 'candidates', not 'scan'"):
        Index.open_or_create(tmp_path / "idx", fake_encoder.identity,
                             options=IndexOptions(compression="compact", colbert_search="scan"))


def test_the_cli_builds_a_compact_index_and_refuses_a_wide_model_with_one_line(tiny_m3_path, tmp_path, capsys):
    from m3search.io.jsonl import write_jsonl

    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, [{"id": "everest", "text": "Der Mount Everest ist 8848 m hoch."},
                         {"id": "nile", "text": "Der Nil ist ein Fluss in Afrika."}])
    idx = tmp_path / "idx"
    assert main(["index", str(corpus), "--index", str(idx), "--model", str(tiny_m3_path), "-q",
                 "--compression", "compact", "--colbert-pool-factor", "3"]) == 0
    with Index.open(idx) as index:
        assert index.manifest.extra["preset"] == "compact" and index.manifest.compression == {"colbert_pool_factor": 3}
    capsys.readouterr()
    assert main(["search", "--index", str(idx), "Wie hoch ist der Everest?", "--mode", "colbert", "--json"]) == 0
    assert '"everest"' in capsys.readouterr().out
    assert main(["index", str(corpus), "--index", str(idx), "--model", str(tiny_m3_path), "-q",
                 "--colbert-storage", "float16"]) == 2
    assert "stores multi-vectors as uint8" in capsys.readouterr().err
    assert main(["index", str(corpus), "--index", str(idx), "--model", str(tiny_m3_path), "-q",
                 "--colbert-search", "scan"]) == 2
    err = capsys.readouterr().err
    assert "searches colbert by 'candidates', not 'scan'" in err and len(err.strip().splitlines()) == 1
    scanned = tmp_path / "scanned"
    assert main(["index", str(corpus), "--index", str(scanned), "--model", str(tiny_m3_path), "-q",
                 "--compression", "compact", "--colbert-search", "scan"]) == 0
    with Index.open(scanned) as index:
        assert index.manifest.colbert_search == "scan" and index.manifest.extra["colbert_search"] == "scan"


def test_an_index_built_by_an_earlier_preset_is_extended_with_the_preset_name(tmp_path, fake_encoder):
    """The preset's settings may change (uint8 dense, HNSW graphs): an index that recorded the
    same preset keeps what it has when extended with ``compression="compact"``; an option given
    beside the name is still checked against it."""
    corpus = make_corpus(40)
    # as an earlier preset stored: float32 dense vectors, the engine's default graphs, every lexical weight
    older = IndexOptions.of(IndexOptions(compression="compact", dense_storage="float32", hnsw={"m": 16}),
                            compression={"colbert_pool_factor": 2})
    index = Index.create(tmp_path / "idx", fake_encoder.identity, options=older)
    index.add([d["id"] for d in corpus[:20]], fake_encoder.encode([d["text"] for d in corpus[:20]], parts="all"))
    index.close()
    again, created = Index.open_or_create(tmp_path / "idx", fake_encoder.identity,
                                          options=IndexOptions(compression="compact"))
    assert not created and again.manifest.dense_storage == "float32" and again.manifest.hnsw == (16, 100)
    assert again.manifest.compression == {"colbert_pool_factor": 2}
    again.add([d["id"] for d in corpus[20:]], fake_encoder.encode([d["text"] for d in corpus[20:]], parts="all"))
    assert again.count() == 40
    again.close()
    for explicit in (IndexOptions(compression="compact", dense_storage="float16"),
                     IndexOptions.of(IndexOptions(compression="compact"), dense_storage="float16")):
        with pytest.raises(ConfigurationError, match="stores dense vectors as float32, not float16"):
            Index.open_or_create(tmp_path / "idx", fake_encoder.identity, options=explicit)
    pruned = IndexOptions.of(IndexOptions(compression="compact"), compression={"colbert_pool_factor": 2, "sparse_top_k": 8})
    with pytest.raises(ConfigurationError, match="was built with compression"):
        Index.open_or_create(tmp_path / "idx", fake_encoder.identity, options=pruned)


def test_what_the_preset_filled_survives_replace_and_a_value_given_later_is_the_callers():
    from dataclasses import replace

    options = IndexOptions(compression="compact")
    assert set(options.preset_filled) == {"colbert_storage", "compression", "dense_storage", "fde", "hnsw",
                                          "quantization", "colbert_search"}
    assert replace(options, compression="compact").preset_filled == options.preset_filled
    mapped = IndexOptions.of(options, colbert_storage="float16", compression={"colbert_pool_factor": 2})
    assert "colbert_storage" not in mapped.preset_filled and mapped.colbert_storage == "float16"
    assert "compression" not in mapped.preset_filled  # reductions given beside the name are the caller's
    renamed = IndexOptions.of(options, dense_storage="float32", compression="compact")
    assert "dense_storage" not in renamed.preset_filled and renamed.dense_storage == "float32"
