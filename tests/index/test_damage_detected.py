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


def test_random_bytes_in_the_id_tracker_are_refused_not_an_abort(tmp_path, fake_encoder):
    """Damaged bytes that read as changes once made the engine allocate tens of GB and abort the
    process; every trial must end in a one-line refusal (a separate process, so an abort shows)."""
    import os
    import random
    import subprocess
    import sys

    build_index(tmp_path / "good", fake_encoder, make_corpus(30)).close()
    rng = random.Random(0)
    outcomes = []
    for trial in range(12):
        damaged = shutil.copytree(tmp_path / "good", tmp_path / f"damaged-{trial}")
        for mappings in damaged.glob("shard/segments/*/mutable_id_tracker.mappings"):
            data = bytearray(rng.randbytes(mappings.stat().st_size))
            data[0] = rng.choice([1, 2, 3, 4])  # a valid change type first: the case the engine aborted on
            mappings.write_bytes(bytes(data))
        script = f"from m3search.index import Index\nIndex.open({str(damaged)!r}).count()"
        done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "RUST_BACKTRACE": "0"})
        outcomes.append(done.returncode)
        assert done.returncode == 1 and "IndexFormatError" in done.stderr, done.stderr[-500:]
        assert "id tracker" in done.stderr.lower() or "ID tracker" in done.stderr
    assert set(outcomes) == {1}
