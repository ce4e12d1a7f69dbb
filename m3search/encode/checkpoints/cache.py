"""Where m3search keeps what it derives: materialised models, suites, embeddings (no torch)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$M3SEARCH_CACHE``, else ``$XDG_CACHE_HOME/m3search``, else ``~/.cache/m3search``.

    >>> import os; os.environ["M3SEARCH_CACHE"] = "/tmp/m3"; str(cache_dir())
    '/tmp/m3'
    >>> del os.environ["M3SEARCH_CACHE"]
    """
    if os.environ.get("M3SEARCH_CACHE"):
        return Path(os.environ["M3SEARCH_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "m3search"
