"""Defects found by probing (the reliability issue), each reproduced: nothing the project did not
create is deleted, a string is not split into ids, a NaN query is an error, a generator of
parts is read once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from m3search.errors import IndexFormatError, InputError
from m3search.index import Index, index_records
from m3search.io.jsonl import Record
from m3search.search import Searcher
from m3search.types import Embeddings
from tests.corpora import build_index, make_corpus


def test_a_lost_manifest_is_refused_and_the_shard_is_kept(tmp_path, fake_encoder):
    build_index(tmp_path / "idx", fake_encoder, make_corpus(30)).close()
    (tmp_path / "idx" / "manifest.json").unlink()
    shard_files = sorted(p.name for p in (tmp_path / "idx" / "shard").rglob("*"))
    with pytest.raises(IndexFormatError, match=r"holds a Qdrant shard \(shard/\) but no manifest.json"):
        index_records(fake_encoder, [Record("x", "one new document")], tmp_path / "idx", show_progress=False)
    assert sorted(p.name for p in (tmp_path / "idx" / "shard").rglob("*")) == shard_files
    manifest = {"format_version": 2, "encoder": fake_encoder.identity, "parts": ["dense", "sparse", "colbert"],
                "colbert_storage": "float16"}
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps(manifest))
    with Index.open(tmp_path / "idx") as again:  # restoring the manifest restores the index, whole
        assert again.count() == 30


def test_a_single_string_is_not_split_into_ids(tmp_path, fake_encoder):
    with build_index(tmp_path / "idx", fake_encoder, make_corpus(5)) as index:
        with pytest.raises(TypeError, match="not a single string"):
            index.add("abc", fake_encoder.encode(["a", "b", "c"], parts="all"))
        assert index.count() == 5


def test_a_nan_query_is_an_error_not_an_empty_result(tmp_path, fake_encoder):
    with build_index(tmp_path / "idx", fake_encoder, make_corpus(5)) as index:
        query = Embeddings(dense=np.full((1, fake_encoder.dim), np.nan, np.float32))
        with pytest.raises(InputError, match="query 0: the dense vector holds NaN"):
            Searcher(None, index).search_embeddings(query, k=3, mode="dense")


def test_parts_given_as_a_generator_are_all_kept(tmp_path, fake_encoder):
    index = Index.create(tmp_path / "idx", fake_encoder.identity, parts=(p for p in ("dense", "sparse")))
    assert index.parts == ("dense", "sparse")
    index.close()


@pytest.mark.parametrize("content", [b"[1, 2]", b"\x89PNG\x00\xff\xfe junk"])
def test_a_damaged_manifest_is_a_typed_error_naming_the_file(tmp_path, fake_encoder, content):
    build_index(tmp_path / "idx", fake_encoder, make_corpus(3)).close()
    (tmp_path / "idx" / "manifest.json").write_bytes(content)
    with pytest.raises(IndexFormatError, match=r"manifest.json: damaged manifest"):
        Index.open(tmp_path / "idx")


def test_cli_bad_batch_size_and_lone_surrogates_are_one_line_errors(tiny_m3_path, tmp_path, capsys):
    from m3search.cli import main

    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "fine"}\n', encoding="utf-8")
    assert main(["encode", str(corpus), "-o", str(tmp_path / "o.npz"), "--model", str(tiny_m3_path),
                 "--batch-size", "0"]) == 2
    assert "batch size must be >= 1, got 0" in capsys.readouterr().err
    corpus.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": "bad \\ud800 text"}\n', encoding="utf-8")
    assert main(["encode", str(corpus), "-o", str(tmp_path / "missing" / "dir" / "o.npz"),
                 "--model", str(tiny_m3_path)]) == 2
    assert "texts[1] holds a lone surrogate" in capsys.readouterr().err
