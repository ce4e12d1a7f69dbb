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


# Damage found by deleting or truncating each shard file in turn: these fail, each with a typed
# error naming the index, at open or at the read. (Losing a segment's id tracker or version file
# instead opens with documents missing: the shard keeps no write-ahead log, see edge.py, so
# nothing holds a second copy to rebuild them from. docs/guide/index-and-search.md says so.)
DAMAGE = [
    ("delete", "segment.json"), ("truncate", "segment.json"), ("truncate", "vector_storage-dense/vectors/status.dat"),
    ("delete", "vector_storage-colbert/vectors/chunk_0.mmap"), ("delete", "payload_storage/page_0.dat"),
    ("truncate", "version.info"), ("delete", "../../edge_config.json"), ("truncate", "../../edge_config.json"),
    ("delete", "../../../shard"),
]


@pytest.mark.parametrize(("action", "name"), DAMAGE, ids=[f"{a}-{n.strip('./')}" for a, n in DAMAGE])
def test_a_damaged_shard_is_a_typed_error_naming_the_index(tmp_path, fake_encoder, action, name):
    import shutil

    build_index(tmp_path / "idx", fake_encoder, make_corpus(20)).close()
    (segment,) = (tmp_path / "idx" / "shard" / "segments").iterdir()
    target = (segment / name).resolve()
    if target.is_dir():
        shutil.rmtree(target)
    elif action == "delete":
        target.unlink()
    else:
        with open(target, "r+b") as handle:
            handle.truncate(target.stat().st_size // 3)
    with pytest.raises(IndexFormatError, match=str(tmp_path / "idx")), Index.open(tmp_path / "idx") as index:
        index.get(["doc-1"], with_vectors=True)
        Searcher(None, index).search_embeddings(fake_encoder.encode(["river"], parts="all"), k=3, mode="all")


@pytest.mark.parametrize(("change", "shown"), [
    ({"parts": ["dense", "sparse"]}, "the shard holds colbert (8 x float16), dense (16 x float32), sparse"),
    ({"colbert_storage": "float32"}, "colbert (8 x float32)"),
    ({"encoder": {"dim": 32}}, "dense (32 x float32)"),
])
def test_a_manifest_that_disagrees_with_its_shard_is_refused(tmp_path, fake_encoder, change, shown):
    build_index(tmp_path / "idx", fake_encoder, make_corpus(5)).close()
    path = tmp_path / "idx" / "manifest.json"
    manifest = json.loads(path.read_text())
    for key, value in change.items():
        manifest[key] = {**manifest[key], **value} if isinstance(value, dict) else value
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="manifest.json disagrees with the shard") as caught:
        Index.open(tmp_path / "idx")
    assert shown in str(caught.value)
    with pytest.raises(IndexFormatError):  # the failed open let go of the lock: refused again, not "locked"
        Index.open(tmp_path / "idx", wait=0)


def test_opening_a_file_or_a_missing_directory_is_a_typed_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(IndexFormatError, match="is a file, not an index directory"):
        Index.open(tmp_path / "file")
    with pytest.raises(IndexFormatError, match="no index at"):
        Index.open(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_bad_metadata_late_in_a_large_input_writes_nothing(tmp_path, fake_encoder):
    from m3search.errors import InvalidDocumentError

    records = [Record(f"d{i}", f"river word{i}", {"n": i}) for i in range(1100)]
    records[1050] = Record("d1050", "river", {"n": {1, 2}})  # a set is not JSON
    with pytest.raises(InvalidDocumentError, match="document 'd1050': metadata is not plain JSON"):
        index_records(fake_encoder, records, tmp_path / "new", show_progress=False)
    assert not (tmp_path / "new").exists()  # nothing created
    build_index(tmp_path / "old", fake_encoder, make_corpus(7)).close()
    with pytest.raises(InvalidDocumentError, match="d1050"):
        index_records(fake_encoder, records, tmp_path / "old", show_progress=False)
    with Index.open(tmp_path / "old") as index:  # nothing written, nothing lost
        assert index.count() == 7
