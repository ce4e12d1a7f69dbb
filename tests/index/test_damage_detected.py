"""Damage that is detected, not served: an embedded shard that lost documents after its last
write (its segments removed, say) is refused at open, naming the counts, instead of opening as
a smaller (or empty) index; deletes and kills never trip it."""

from __future__ import annotations

import shutil

import pytest

from m3search.errors import IndexFormatError
from m3search.index import Index
from tests.corpora import build_index, make_corpus


def test_a_shard_without_its_segments_is_refused(tmp_path, fake_encoder):
    build_index(tmp_path / "idx", fake_encoder, make_corpus(20)).close()
    segments = next((tmp_path / "idx" / "shard").glob("segments"))
    shutil.rmtree(segments)
    segments.mkdir()
    with pytest.raises(IndexFormatError, match="holds 0 documents but recorded 20 at its last write"):
        Index.open(tmp_path / "idx")


def test_deletes_keep_the_record_true(tmp_path, fake_encoder):
    index = build_index(tmp_path / "idx", fake_encoder, make_corpus(20))
    index.delete(["doc-1", "doc-2", "no-such-doc"])
    index.close()
    with Index.open(tmp_path / "idx") as reopened:
        assert reopened.count() == 18 and reopened.manifest.extra["documents"] == 18
