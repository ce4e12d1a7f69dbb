"""Index storage: schema, manifest, validation, upserts, filters."""

from __future__ import annotations

import json

import numpy as np
import pytest

from m3search.errors import ConfigurationError, IndexFormatError, IndexMismatchError, InvalidDocumentError
from m3search.index import Index, point_id
from m3search.types import Embeddings, Ragged
from tests.fakes import FakeEncoder


def test_add_get_count_and_filters(index, corpus, fake_encoder):
    assert index.count() == 120
    assert index.count({"lang": "de"}) == 30
    assert index.count({"lang": ["de", "zh"]}) == 60
    doc, missing = index.get(["doc-7", "nope"], with_vectors=True)
    assert missing is None
    assert doc.id == "doc-7" and doc.text == corpus[7]["text"] and doc.metadata == {"lang": "zh"}
    expected = fake_encoder.encode([corpus[7]["text"]], parts="all")
    np.testing.assert_allclose(doc.dense, expected.dense[0], atol=1e-6)
    assert doc.sparse.to_dict() == pytest.approx(expected.sparse[0].to_dict(), abs=1e-6)
    np.testing.assert_allclose(doc.colbert, expected.colbert[0], atol=1e-6)


def test_upsert_replaces_by_id_and_delete_removes(index, fake_encoder):
    emb = fake_encoder.encode(["completely new words here"], parts="all")
    index.add(["doc-3"], emb, texts=["completely new words here"], metadata=[{"lang": "xx"}])
    assert index.count() == 120
    assert index.get(["doc-3"])[0].text == "completely new words here"
    index.delete(["doc-3", "doc-4", "never-there"])
    assert index.count() == 118 and index.get(["doc-3"]) == [None]


def test_string_ids_map_to_pinned_point_ids():
    # Pinned values: a change of namespace or scheme would orphan every existing index.
    assert point_id("doc-1") == "ba4953c2-dcbc-5a7c-b4e7-8855ce37503e"
    assert point_id("xquad-0-ru") == "120f8dc5-4f22-570c-9f1e-887071b29121"
    assert point_id("doc-1") != point_id("doc-2")


def test_reopen_keeps_everything_and_checks_the_encoder(tmp_path, index, fake_encoder):
    path = index.backend.path
    index.close()
    again = Index.open(path, encoder_identity=fake_encoder.identity)
    assert again.count() == 120 and again.parts == ("dense", "sparse", "colbert")
    again.close()
    with pytest.raises(IndexMismatchError, match="built with encoder 'fake', not 'other'.*dim: index 16, encoder 32"):
        Index.open(path, encoder_identity=FakeEncoder(dim=32, name="other").identity)


def test_newer_format_and_missing_index_are_refused(tmp_path, index):
    path = index.backend.path
    index.close()
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format_version"] = 99
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="format version 99 is newer"):
        Index.open(path)
    manifest["format_version"] = 2
    manifest["extra"]["uint8_codec"] = 5  # a uint8 row layout of a later m3search
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="uint8 layout 5 is not one this m3search reads"):
        Index.open(path)
    with pytest.raises(IndexFormatError, match="no index at"):
        Index.open(tmp_path / "nothing-here")
    with pytest.raises(ConfigurationError, match="already exists"):
        Index.create(path, FakeEncoder().identity)


def _bad_batches(fake_encoder):
    good = fake_encoder.encode(["a b", "c d"], parts="all")
    nan_dense = good.dense.copy()
    nan_dense[1, 0] = np.nan
    yield "lacks the colbert part", ["x1", "x2"], Embeddings(dense=good.dense, sparse=good.sparse)
    yield "'x1': dense dimension", ["x1", "x2"], Embeddings(dense=np.ones((2, 5), np.float32), sparse=good.sparse,
                                                            colbert=good.colbert)
    yield "'x2': dense vector holds NaN", ["x1", "x2"], Embeddings(dense=nan_dense, sparse=good.sparse,
                                                                  colbert=good.colbert)
    yield "'x1' appears twice", ["x1", "x1"], good
    yield "'x1': multi-vector dimension 3", ["x1", "x2"], Embeddings(
        dense=good.dense, sparse=good.sparse, colbert=Ragged.from_arrays([np.ones((2, 3), np.float32)] * 2))


def test_bad_documents_are_named_and_nothing_is_written(index, fake_encoder):
    for message, ids, emb in _bad_batches(fake_encoder):
        with pytest.raises(InvalidDocumentError, match=message):
            index.add(ids, emb)
        assert index.count() == 120, message
    good = fake_encoder.encode(["a b"], parts="all")
    with pytest.raises(InvalidDocumentError, match="'x9': metadata is not plain JSON"):
        index.add(["x9"], good, metadata=[{"when": object()}])
    assert index.get(["x1", "x2", "x9"]) == [None, None, None]


def test_an_index_may_hold_fewer_parts(tmp_path, fake_encoder):
    idx = Index.create(tmp_path / "dense-only", fake_encoder.identity, parts=["dense"])
    idx.add(["a"], fake_encoder.encode(["river"], parts=["dense"]))
    assert idx.parts == ("dense",) and idx.count() == 1
    with pytest.raises(ConfigurationError, match="not all produced"):
        Index.create(tmp_path / "x", FakeEncoder(parts=("dense",)).identity, parts=["dense", "colbert"])
