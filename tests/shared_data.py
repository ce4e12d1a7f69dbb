"""Where the real multilingual data lives (``../shared/data`` beside the clone, or ``$M3SEARCH_DATA``).

Tests that need it use :data:`needs_data`. Locally a missing directory skips them; under CI
(``CI`` set) it fails them, so that a broken path can never pass as green.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("M3SEARCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

#: Mark a test (or module) as needing the shared data; see the ``shared_data`` fixture in conftest.
needs_data = pytest.mark.usefixtures("shared_data")


def require_data() -> Path:
    if not (DATA / "raw").is_dir():
        message = f"shared data not found at {DATA} (set M3SEARCH_DATA)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must have it", pytrace=False)
        pytest.skip(message)
    return DATA
