"""Fixtures of the encoder's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def graph_cache(tmp_path_factory):
    """Exported graphs go to a private cache for the whole session (exporting takes seconds)."""
    from m3search.encode.backends import onnx_files

    cache = tmp_path_factory.mktemp("m3search-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(onnx_files, "cache_dir", lambda: cache)
        yield cache
