from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.corpora import build_index, make_corpus
from tests.fakes import FakeEncoder
from tests.shared_data import require_data

FIXTURES = Path(__file__).parent / "fixtures"



@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data directory: skipped when missing, failed when missing under CI."""
    return require_data()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_m3_path() -> Path:
    return FIXTURES / "tiny-m3"


@pytest.fixture(scope="session")
def tiny_m3(tiny_m3_path):
    """The tiny BGE-M3-layout checkpoint, loaded once per session (read-only use)."""
    from m3search.encode import Encoder

    return Encoder.load(tiny_m3_path, device="cpu")


@pytest.fixture
def tiny_m3_copy(tiny_m3_path, tmp_path) -> Path:
    """A private copy of the checkpoint directory, for tests that modify it."""
    target = tmp_path / "tiny-m3"
    shutil.copytree(tiny_m3_path, target)
    return target


@pytest.fixture(scope="session")
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def corpus() -> list[dict]:
    return make_corpus(120)


@pytest.fixture
def index(tmp_path, fake_encoder, corpus):
    idx = build_index(tmp_path / "idx", fake_encoder, corpus, colbert_storage="float32")
    yield idx
    idx.close()
