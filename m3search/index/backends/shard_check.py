"""Checks of an embedded shard's files that the engine cannot survive (no torch, no engine).

The engine's mutable id tracker (``segments/*/mutable_id_tracker.mappings``) is a log of
changes: a type byte (1 insert by number, 2 insert by UUID, 3 and 4 the deletions), the point
id (8 or 16 bytes), and for an insert the point's offset in the segment (4 bytes, little-endian).
Damaged bytes that still read as changes can name an offset in the billions, and opening the
shard then aborts the whole process while allocating for it. Offsets are handed out one by one,
so an offset at or beyond the number of inserts in the log is damage: refused here, before the
engine reads it.

>>> import tempfile; segment = Path(tempfile.mkdtemp()) / "segments" / "s"; segment.mkdir(parents=True)
>>> _ = (segment / MAPPINGS).write_bytes(bytes([2]) + bytes(16) + (0).to_bytes(4, "little"))
>>> check_id_trackers(segment.parent.parent)
>>> _ = (segment / MAPPINGS).write_bytes(bytes([2]) + bytes(16) + (4_000_000_000).to_bytes(4, "little"))
>>> check_id_trackers(segment.parent.parent)
Traceback (most recent call last):
...
m3search.errors.IndexFormatError: damaged id tracker segments/s/mutable_id_tracker.mappings: an insert at byte 0 names offset 4000000000, beyond the 1 inserts the log holds; restore the index from a copy or rebuild it
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import IndexFormatError

MAPPINGS = "mutable_id_tracker.mappings"
#: Bytes after the type byte, per change type; inserts end with a 4-byte offset.
_PAYLOAD = {1: 12, 2: 20, 3: 8, 4: 16}


def check_id_trackers(shard_dir: Path) -> None:
    """Refuse a shard whose mutable id tracker the engine would abort on (see the module)."""
    for path in sorted(shard_dir.glob(f"segments/*/{MAPPINGS}")):
        _check_mappings(path, path.read_bytes())


def _check_mappings(path: Path, data: bytes) -> None:
    if not data:
        return
    uniform = _uniform_inserts(data)
    if uniform is not None:  # the common log: inserts of one kind only, checked at once
        offsets, kind = uniform
        bad = np.nonzero(offsets >= len(offsets))[0]
        if len(bad):
            _refuse(path, int(bad[0]) * (1 + _PAYLOAD[kind]), int(offsets[bad[0]]), len(offsets))
        return
    pos, inserts, worst = 0, 0, (-1, 0)
    while pos < len(data):
        kind = data[pos]
        size = _PAYLOAD.get(kind)
        if size is None:
            raise IndexFormatError(f"damaged id tracker {_short(path)}: byte {pos} is not a change type ({kind})")
        if pos + 1 + size > len(data):
            break  # a partial last change (an interrupted flush): the engine drops it
        if kind in (1, 2):
            inserts += 1
            offset = int.from_bytes(data[pos + 1 + size - 4 : pos + 1 + size], "little")
            worst = max(worst, (offset, pos))
        pos += 1 + size
    if worst[0] >= inserts:
        _refuse(path, worst[1], worst[0], inserts)


def _uniform_inserts(data: bytes) -> tuple[np.ndarray, int] | None:
    """The offsets of a log made only of inserts of one kind (the last change may be partial), else ``None``."""
    kind = data[0]
    if kind not in (1, 2):
        return None
    step = 1 + _PAYLOAD[kind]
    whole = len(data) // step
    rows = np.frombuffer(data[: whole * step], dtype=np.uint8).reshape(whole, step)
    if not (rows[:, 0] == kind).all():
        return None
    return rows[:, step - 4 :].copy().view("<u4").reshape(-1).astype(np.int64), kind


def _refuse(path: Path, at: int, offset: int, inserts: int) -> None:
    raise IndexFormatError(f"damaged id tracker {_short(path)}: an insert at byte {at} names offset {offset}, beyond "
                           f"the {inserts} inserts the log holds; restore the index from a copy or rebuild it")


def _short(path: Path) -> str:
    """The file as the shard names it: ``segments/<segment>/mutable_id_tracker.mappings``."""
    return f"{path.parent.parent.name}/{path.parent.name}/{path.name}"
