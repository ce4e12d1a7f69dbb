"""The embedded index's concurrency contract: one process at a time, others wait, then a clear error.

qdrant-edge locks its write-ahead log, so a shard can be open in one process only, for reading
as for writing. m3search makes that rule explicit and polite instead of a damaged-index error:

- Opening or creating an index in a directory takes an exclusive ``flock`` on ``DIR/lock`` and
  writes the holder's pid and command line into it.
- Another process (or another :class:`~m3search.index.Index` in the same process) waits up to
  ``wait`` seconds (default :data:`DEFAULT_WAIT`) for it, then raises
  :class:`~m3search.errors.IndexLockedError` naming the holder's pid and command.
- The lock is released by :meth:`Index.close <m3search.index.Index.close>`, at process exit,
  and by the kernel when the holder is killed (even with SIGKILL): nothing is left to clean up.
- A writer flushes before ``add`` returns, so whoever gets the lock next sees every
  acknowledged document.

>>> import tempfile
>>> directory = tempfile.mkdtemp()
>>> first = IndexLock.acquire(directory, wait=0)
>>> IndexLock.acquire(directory, wait=0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
m3search.errors.IndexLockedError: the index at ... is in use by process ... (...); ...
>>> first.release()
>>> IndexLock.acquire(directory, wait=0).release()
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from ..errors import ConfigurationError, IndexFormatError, IndexLockedError

LOCK_FILE = "lock"
#: Seconds a process waits for an index another process holds, unless told otherwise.
DEFAULT_WAIT = 10.0
_POLL = 0.05


class IndexLock:
    """An exclusive lock on an index directory, held until :meth:`release`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, directory: str | Path, *, wait: float = DEFAULT_WAIT) -> IndexLock:
        """Lock ``directory`` (which must exist), waiting up to ``wait`` seconds."""
        if not wait >= 0:  # also refuses NaN
            raise ConfigurationError(f"wait must be >= 0 seconds, got {wait}")
        path = Path(directory) / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise IndexFormatError(f"cannot lock the index at {directory}: {exc.strerror} ({path})") from exc
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(path)
                    os.close(fd)
                    waited = f"after waiting {wait:g} s" if wait else "without waiting"
                    raise IndexLockedError(
                        f"the index at {directory} is in use by {holder}; gave up {waited} "
                        "(an embedded index is open in one process at a time: wait longer with --wait, "
                        "or stop that process)"
                    ) from None
                time.sleep(_POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv)[:200]}).encode(), 0)
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays: removing it would race with waiters."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        try:
            self.release()
        except OSError:
            pass


def _holder(path: Path) -> str:
    """``process 1234 (m3search index ...)`` from the lock file, as far as it can be read."""
    for _ in range(5):  # the holder writes its pid just after locking: give it a moment
        try:
            info = json.loads(path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict) and "pid" in info:
            return f"process {info['pid']} ({info.get('command') or '?'})"
        time.sleep(_POLL)
    return "another process (pid unknown)"
