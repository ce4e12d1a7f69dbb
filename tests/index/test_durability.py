"""A process killed (SIGKILL) in the middle of a large add leaves an index that opens, holds every
document of the calls that returned, and holds no partial document."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from m3search.index import Index
from tests.fakes import FakeEncoder

ROOT = Path(__file__).resolve().parents[2]
PER_CALL = 1500

WRITER = textwrap.dedent(f"""
    import sys
    from m3search.index import Index
    from tests.fakes import FakeEncoder
    encoder = FakeEncoder()
    index = Index.create(sys.argv[1], encoder.identity)
    texts = [f"river mountain word{{i}} city{{i % 7}}" for i in range({PER_CALL})]
    embeddings = encoder.encode(texts, parts="all")
    for call in range(1000):
        ids = [f"c{{call}}-{{i}}" for i in range({PER_CALL})]
        index.add(ids, embeddings, texts=texts, batch_size=100)
        print(f"returned {{call}}", flush=True)
""")


def kill_during_the_third_call(script: str, path: Path, delay: float) -> int:
    """Run ``script`` (which prints ``returned N`` after each add) until two calls returned, let
    the next get under way for ``delay`` seconds, SIGKILL it; the last call it said returned."""
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    returned = -1
    try:
        for line in proc.stdout:
            returned = int(line.split()[1])
            if returned >= 1:
                time.sleep(delay)  # let the next call get under way
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert returned >= 1, "the writer died before two calls returned"
    return returned


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_sigkill_during_add(tmp_path, delay):
    path = tmp_path / "idx"
    returned = kill_during_the_third_call(WRITER, path, delay)
    # the child may have returned more calls between our read and the kill; count from the index
    with Index.open(path, encoder_identity=FakeEncoder().identity) as index:
        total = index.count()
        assert total >= (returned + 1) * PER_CALL
        calls_seen = total // PER_CALL + 1
        ids = [f"c{call}-{i}" for call in range(calls_seen + 1) for i in range(PER_CALL)]
        docs = [d for d in index.get(ids, with_vectors=True) if d is not None]
        assert len(docs) == total
        for doc in docs:  # whole: every part and the payload
            assert doc.dense is not None and doc.sparse is not None and doc.colbert is not None and doc.text
        present = {d.id for d in docs}
        for call in range(returned + 1):
            assert all(f"c{call}-{i}" in present for i in range(PER_CALL)), f"call {call} returned but is incomplete"
        encoder = FakeEncoder()
        index.add(["after"], encoder.encode(["still writable"], parts="all"))
        assert index.count() == total + 1


REWRITER = textwrap.dedent(f"""
    import sys
    from m3search.index import Index
    from tests.fakes import FakeEncoder
    encoder = FakeEncoder()
    index = Index.create(sys.argv[1], encoder.identity)
    ids = [f"doc-{{i}}" for i in range({PER_CALL})]
    for call in range(1000):
        texts = [f"version {{call}} river word{{i}}" for i in range({PER_CALL})]
        index.add(ids, encoder.encode(texts, parts="all"), texts=texts, batch_size=100)
        print(f"returned {{call}}", flush=True)
""")


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_sigkill_while_replacing_documents_keeps_every_document_whole(tmp_path, delay):
    """Re-adding stored ids and being killed: every document is still there, whole, in the
    version of a call that returned or of the call that was running."""
    path = tmp_path / "idx"
    returned = kill_during_the_third_call(REWRITER, path, delay)
    with Index.open(path, encoder_identity=FakeEncoder().identity) as index:
        assert index.count() == PER_CALL
        docs = index.get([f"doc-{i}" for i in range(PER_CALL)], with_vectors=True)
        assert all(d is not None for d in docs), "a stored document was lost"
        for doc in docs:
            assert doc.dense is not None and doc.sparse is not None and doc.colbert is not None
            assert int(doc.text.split()[1]) >= returned  # no older than the last call that returned
            assert doc.text.endswith(f"word{doc.id.split('-')[1]}")


def test_the_shard_keeps_no_write_ahead_log(tmp_path):
    """qdrant-edge would replay a whole log on every open and never truncate it: the index runs
    without one (every add flushes), so opening costs the same after a million writes."""
    encoder = FakeEncoder()
    with Index.create(tmp_path / "idx", encoder.identity) as index:
        for call in range(3):
            index.add([f"d{call}-{i}" for i in range(50)], encoder.encode([f"river {i}" for i in range(50)], parts="all"))
    config = (tmp_path / "idx" / "shard" / "edge_config.json").read_text()
    assert '"wal_enabled":false' in config.replace(" ", "")
    assert not any((tmp_path / "idx" / "shard" / "wal").glob("*"))
