"""An embedded index whose vectors, sparse index and payloads stay on disk (Qdrant's cold tier)."""

from __future__ import annotations

import json

import pytest

from m3search.cli import main
from m3search.errors import ConfigurationError
from m3search.index import Index, ShardSettings
from m3search.io.jsonl import write_jsonl
from m3search.search import MODES, Searcher
from tests.corpora import build_index, make_queries
from tests.search.test_searcher import assert_same_ranking


def _memory(path) -> dict:
    config = json.loads((path / "shard" / "edge_config.json").read_text())
    tiers = {name: v.get("memory") for name, v in config["vectors"].items()}
    tiers.update({name: v.get("memory") for name, v in config["sparse_vectors"].items()})
    tiers["payload"] = config.get("payload_memory")
    return tiers


def test_an_on_disk_index_is_cold_everywhere_and_searches_like_the_default(tmp_path, fake_encoder, corpus):
    cold = build_index(tmp_path / "cold", fake_encoder, corpus, settings=ShardSettings(on_disk=True))
    warm = build_index(tmp_path / "warm", fake_encoder, corpus)
    assert _memory(tmp_path / "cold") == {"dense": "cold", "colbert": "cold", "sparse": "cold", "payload": "cold"}
    assert set(_memory(tmp_path / "warm").values()) == {None}  # the engine's default: warmed into RAM
    queries = make_queries(6)
    for mode in MODES:
        a = Searcher(fake_encoder, cold).search(queries, k=5, mode=mode)
        b = Searcher(fake_encoder, warm).search(queries, k=5, mode=mode)
        for row_a, row_b in zip(a, b):  # the same hits, but where the engine cut among exact ties
            assert_same_ranking(row_a, row_b)
            assert all(h.text == corpus[int(h.id.split("-")[1])]["text"] for h in row_a)
    cold.close()
    warm.close()
    with Index.open(tmp_path / "cold") as reopened:  # the layout is the shard's own, kept on reopening
        assert reopened.backend.on_disk() and reopened.count() == len(corpus)


def test_on_disk_from_the_cli_and_refused_for_an_index_built_in_memory(tmp_path, tiny_m3_path, capsys):
    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, [{"id": "a", "text": "Der Rhein fließt durch Köln."}, {"id": "b", "text": "Everest"}])
    model = ["--model", str(tiny_m3_path), "-q"]
    assert main(["index", str(corpus), "--index", str(tmp_path / "cold"), *model, "--on-disk"]) == 0
    assert set(_memory(tmp_path / "cold").values()) == {"cold"}
    assert main(["index", str(corpus), "--index", str(tmp_path / "warm"), *model]) == 0
    capsys.readouterr()
    assert main(["index", str(corpus), "--index", str(tmp_path / "warm"), *model, "--on-disk"]) == 2
    assert "keeps its vectors in memory, not on disk" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="is an index directory"):
        Index.create(tmp_path / "x", {"name": "toy", "dim": 2, "parts": ["dense"]}, settings=object())


def test_a_bounded_segment_size_is_laid_out_and_checked(tmp_path, fake_encoder):
    import json

    from m3search.errors import ConfigurationError
    from m3search.index import Index, IndexOptions, ShardSettings

    options = IndexOptions(settings=ShardSettings(max_segment_size_kb=4096))
    with Index.create(tmp_path / "idx", fake_encoder.identity, options=options) as index:
        index.add(["a"], fake_encoder.encode(["Nile"], parts="all"))
    config = json.loads((tmp_path / "idx" / "shard" / "edge_config.json").read_text())
    assert config["optimizers"]["max_segment_size"] == 4096
    with pytest.raises(ConfigurationError, match="max_segment_size_kb must be an integer >= 1024, got 10"):
        ShardSettings(max_segment_size_kb=10)


def test_a_full_scan_threshold_of_one_kb_builds_the_graph_of_a_small_index(tmp_path, fake_encoder):
    """What ``benchmarks/certify.py`` measures: the HNSW graph a large index has, on 600 documents
    the engine would otherwise scan; vectors used only to rescore still get none."""
    from m3search.index import IndexOptions
    from tests.corpora import make_corpus

    corpus = make_corpus(600)
    embeddings = fake_encoder.encode([d["text"] for d in corpus], parts="all")

    def graph_bytes(name, settings):
        with Index.create(tmp_path / name, fake_encoder.identity, options=IndexOptions(settings=settings)) as index:
            index.add([d["id"] for d in corpus], embeddings)
            index.optimize()
        config = json.loads((tmp_path / name / "shard" / "edge_config.json").read_text())
        files = {v: sum(f.stat().st_size for f in (tmp_path / name).rglob(f"vector_index-{v}/*") if f.is_file())
                 for v in ("dense", "colbert")}
        return config, files

    _, default = graph_bytes("default", None)
    config, forced = graph_bytes("forced", ShardSettings(full_scan_threshold_kb=1))
    assert config["optimizers"]["indexing_threshold"] == 1
    assert config["vectors"]["dense"]["hnsw_config"]["full_scan_threshold"] == 1
    assert config["vectors"]["colbert"]["hnsw_config"]["m"] == 0  # rescoring only: no graph
    assert forced["dense"] > default["dense"] + 600 * 16  # links of every document
    with pytest.raises(ConfigurationError, match="full_scan_threshold_kb must be an integer >= 1, got 0"):
        ShardSettings(full_scan_threshold_kb=0)


def test_the_cli_bounds_the_segment_size_with_one_line_errors(tiny_m3_path, tmp_path, capsys):
    import json

    from m3search.cli import main
    from m3search.io.jsonl import write_jsonl

    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, [{"id": "nile", "text": "Der Nil ist ein Fluss in Afrika."}])
    assert main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--model", str(tiny_m3_path), "-q",
                 "--max-segment-mb", "4"]) == 0
    config = json.loads((tmp_path / "idx" / "shard" / "edge_config.json").read_text())
    assert config["optimizers"]["max_segment_size"] == 4096
    capsys.readouterr()
    for flags, message in ((["--max-segment-mb", "0"], "--max-segment-mb must be >= 1, got 0"),):
        assert main(["index", str(corpus), "--index", str(tmp_path / "bad"), "--model", str(tiny_m3_path), *flags]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
    assert main(["index", str(corpus), "--index", "http://127.0.0.1:9/docs", "--model", str(tiny_m3_path),
                 "--max-segment-mb", "4"]) == 2
    assert "keeps the server's optimizer settings" in capsys.readouterr().err
