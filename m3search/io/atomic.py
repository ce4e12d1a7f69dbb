"""One way to write a file so that a crash leaves either the old file or the new one, whole.

The data goes to a temporary file beside the target, is flushed and fsynced, then renamed
over the target (``os.replace`` is atomic on POSIX and Windows); the directory entry is
fsynced too where the platform allows it.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> with atomic_write(target) as handle:
...     _ = handle.write("hello")
>>> target.read_text()
'hello'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], *, binary: bool = False, suffix: str = "") -> Iterator[IO]:
    """Open a temporary file for writing; on success it replaces ``path`` (created parents included).

    ``suffix`` is appended to the temporary name (``numpy.savez`` insists on ``.npz``). On an
    exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")
    try:
        with open(tmp, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with atomic_write(path) as handle:
        handle.write(text)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_output_path(path: str | os.PathLike[str], what: str = "output") -> Path:
    """``path`` if a file can be written there: raises :class:`ConfigurationError` naming it when a
    parent is a file or the path is a directory (checked before any work is done).

    >>> import tempfile, pathlib
    >>> blocker = pathlib.Path(tempfile.mkdtemp()) / "a-file"
    >>> _ = blocker.write_text("x")
    >>> check_output_path(blocker / "out.jsonl")
    Traceback (most recent call last):
    ...
    m3search.errors.ConfigurationError: cannot write the output ... under a file: ...a-file is not a directory
    """
    from ..errors import ConfigurationError

    path = Path(path)
    if path.is_dir():
        raise ConfigurationError(f"cannot write the {what} {path}: it is a directory")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigurationError(f"cannot write the {what} {path} under a file: {parent} is not a directory")
            if not os.access(parent, os.W_OK):
                raise ConfigurationError(f"cannot write the {what} {path}: {parent} is not writable")
            break
    return path
