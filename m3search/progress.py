"""One rule for progress bars: shown for long work (from :data:`PROGRESS_THRESHOLD` items),
or as the caller says (no torch)."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

#: Default: a bar appears from this many items on.
PROGRESS_THRESHOLD = 256


def progress_bar(total: int, desc: str, unit: str, show: bool | None = None) -> Any:
    """A tqdm bar over ``total`` items; ``show=None`` shows it when ``total >= PROGRESS_THRESHOLD``.

    >>> with progress_bar(3, "demo", "item", show=False) as bar:
    ...     bar.update(3)
    """
    return tqdm(total=total, desc=desc, unit=unit, disable=not (total >= PROGRESS_THRESHOLD if show is None else show))
