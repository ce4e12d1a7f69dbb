from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"



@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_m3_path() -> Path:
    return FIXTURES / "tiny-m3"


@pytest.fixture(scope="session")
def tiny_m3(tiny_m3_path):
    """The tiny BGE-M3-layout checkpoint, loaded once per session (read-only use)."""
    from m3search.model import Encoder

    return Encoder.load(tiny_m3_path, device="cpu")


@pytest.fixture
def tiny_m3_copy(tiny_m3_path, tmp_path) -> Path:
    """A private copy of the checkpoint directory, for tests that modify it."""
    target = tmp_path / "tiny-m3"
    shutil.copytree(tiny_m3_path, target)
    return target
