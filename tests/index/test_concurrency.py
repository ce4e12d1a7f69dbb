"""The concurrency contract, with real processes: an embedded index is open in one process at a
time; others wait up to ``wait`` seconds, then get IndexLockedError naming the holder's pid.

Two writers are serialised with nothing lost; a writer that cannot wait is told who holds the
index and the holder is unharmed; concurrent creators make one index; a reader during a write
fails fast with the pid or waits and sees the writer's flushed state; a holder killed with
SIGKILL frees the index for the process waiting on it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from m3search.errors import IndexLockedError
from m3search.index import Index
from m3search.index.lock import IndexLock
from tests.fakes import FakeEncoder

ROOT = Path(__file__).resolve().parents[2]

# argv: index dir, id prefix, number of add() calls, wait seconds, pause between calls.
WRITER = textwrap.dedent("""
    import os, sys, time
    from m3search.errors import IndexLockedError
    from m3search.index import Index
    from tests.fakes import FakeEncoder
    path, prefix, calls, wait, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    release = sys.argv[6] if len(sys.argv) > 6 else None  # held open until this file exists (at most 60 s)
    encoder = FakeEncoder()
    try:
        index, created = Index.open_or_create(path, encoder.identity, wait=wait)
    except IndexLockedError as exc:
        print("locked", exc, flush=True)
        sys.exit(3)
    print("opened", "created" if created else "existing", flush=True)
    for call in range(calls):
        ids = [f"{prefix}-{call}-{i}" for i in range(20)]
        index.add(ids, encoder.encode([f"river word{i} {prefix}" for i in range(20)], parts="all"))
        print("acknowledged", call, flush=True)
        time.sleep(pause)
    deadline = time.monotonic() + 60
    while release and not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
    index.close()
    print("closed", flush=True)
""")

READER = textwrap.dedent("""
    import sys
    from m3search.errors import IndexLockedError
    from m3search.index import Index
    try:
        with Index.open(sys.argv[1], wait=float(sys.argv[2])) as index:
            print("count", index.count(), flush=True)
    except IndexLockedError as exc:
        print("locked", exc, flush=True)
        sys.exit(3)
""")


def _start(script: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _wait_for(proc: subprocess.Popen, word: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(word):
            return line
    raise AssertionError(f"process ended without printing {word!r}: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}")


def _finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def test_two_writers_are_serialised_and_no_acknowledged_document_is_lost(tmp_path):
    path = tmp_path / "idx"
    first = _start(WRITER, path, "a", 5, 30, 0.2)
    _wait_for(first, "acknowledged")  # the first holds the index
    second = _start(WRITER, path, "b", 5, 30, 0)
    code_a, out_a = _finish(first)
    code_b, out_b = _finish(second)
    assert (code_a, code_b) == (0, 0), out_a + out_b
    assert "opened existing" in out_b  # it waited, then found the index the first one made
    with Index.open(path) as index:
        assert index.count() == 200
        for prefix in "ab":
            assert all(d is not None for d in index.get([f"{prefix}-{c}-{i}" for c in range(5) for i in range(20)]))


def test_a_writer_that_cannot_wait_is_told_the_holders_pid_and_the_holder_is_unharmed(tmp_path):
    path = tmp_path / "idx"
    release = tmp_path / "release"
    first = _start(WRITER, path, "a", 6, 30, 0.1, release)  # holds the index until the second has given up
    _wait_for(first, "acknowledged")
    second = _start(WRITER, path, "b", 1, 0.5, 0)
    code_b, out_b = _finish(second)
    release.touch()
    assert code_b == 3
    assert f"is in use by process {first.pid}" in out_b and "gave up after waiting 0.5 s" in out_b
    assert "Traceback" not in out_b
    code_a, out_a = _finish(first)
    assert code_a == 0 and "closed" in out_a, out_a
    with Index.open(path) as index:
        assert index.count() == 120


@pytest.mark.parametrize("how", ["open_or_create", "create"])
def test_concurrent_creators_make_one_index(tmp_path, how):
    path = tmp_path / "new" / "idx"
    script = WRITER if how == "open_or_create" else textwrap.dedent("""
        import sys
        from m3search.errors import ConfigurationError
        from m3search.index import Index
        from tests.fakes import FakeEncoder
        try:
            Index.create(sys.argv[1], FakeEncoder().identity, wait=30).close()
            print("created", flush=True)
        except ConfigurationError as exc:
            print("exists", exc, flush=True)
    """)
    args = (path, "p", 1, 30, 0) if how == "open_or_create" else (path,)
    procs = [_start(script, *args) for _ in range(4)]
    results = [_finish(p) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    outputs = [out for _, out in results]
    if how == "open_or_create":
        assert sum("opened created" in out for out in outputs) == 1
        assert sum("opened existing" in out for out in outputs) == 3
    else:
        assert sum(out.startswith("created") for out in outputs) == 1
        assert sum("an index already exists" in out for out in outputs) == 3
    assert not any("Traceback" in out for out in outputs)
    with Index.open(path) as index:
        assert index.count() == (20 if how == "open_or_create" else 0)


def test_a_reader_during_a_write_fails_fast_with_the_pid_or_waits_and_sees_the_write(tmp_path):
    path = tmp_path / "idx"
    writer = _start(WRITER, path, "a", 4, 30, 0.3)
    _wait_for(writer, "acknowledged")
    impatient = _start(READER, path, 0)
    code, out = _finish(impatient)
    assert code == 3 and f"process {writer.pid}" in out and "without waiting" in out
    patient = _start(READER, path, 60)
    code, out = _finish(patient)
    assert code == 0 and out.strip() == "count 80"  # everything the writer acknowledged
    assert _finish(writer)[0] == 0


def test_a_holder_killed_with_sigkill_frees_the_index_for_the_waiting_writer(tmp_path):
    path = tmp_path / "idx"
    victim = _start(WRITER, path, "a", 1000, 30, 0.05)
    _wait_for(victim, "acknowledged")
    waiting = _start(WRITER, path, "b", 2, 60, 0)
    time.sleep(0.5)
    assert waiting.poll() is None  # it is waiting for the lock
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    code, out = _finish(waiting)
    assert code == 0 and "opened existing" in out, out
    with Index.open(path) as index:
        total = index.count()
        assert total >= 20 + 40 and total % 20 == 0  # whole calls only, and both of b's
        assert all(d is not None for d in index.get([f"b-{c}-{i}" for c in range(2) for i in range(20)]))


def test_the_lock_also_holds_within_one_process_and_is_released_by_close(tmp_path):
    first = Index.create(tmp_path / "idx", FakeEncoder().identity)
    with pytest.raises(IndexLockedError, match=f"in use by process {os.getpid()}"):
        Index.open(tmp_path / "idx", wait=0)
    first.close()
    Index.open(tmp_path / "idx", wait=0).close()
    lock = IndexLock.acquire(tmp_path / "idx", wait=0)
    assert lock.held
    lock.release()
    lock.release()  # idempotent
    assert not lock.held
