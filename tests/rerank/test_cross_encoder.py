"""Loading and scoring behaviour of CrossEncoder beyond parity: input order, batching, refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from m3search import CrossEncoder
from m3search.errors import CheckpointNotFoundError, ConfigurationError, InputError

PAIRS = [("Wie hoch ist der Everest?", "Der Mount Everest ist 8848 m hoch."),
         ("What is the capital of Australia?", "Canberra is the capital of Australia. " * 30),
         ("Nile", "The Nile flows north.")]


@pytest.fixture(scope="module")
def reranker(fixtures_dir):
    return CrossEncoder.load(fixtures_dir / "tiny-reranker", device="cpu")


def test_scores_are_in_input_order_whatever_the_batching(reranker):
    one_by_one = np.array([reranker.score([p])[0] for p in PAIRS])
    np.testing.assert_allclose(reranker.score(PAIRS, batch_size=1), one_by_one, atol=1e-6)
    np.testing.assert_allclose(reranker.score(PAIRS[::-1], max_batch_tokens=8)[::-1], one_by_one, atol=1e-6)
    assert reranker.score([]).shape == (0,)
    assert reranker.identity["name"].endswith("tiny-reranker") and len(reranker.identity["weights"]) == 16


@pytest.mark.parametrize(("pairs", "message"), [
    ("q", "not a single string"), ([("q",)], "pair 0 is not a (query, passage) pair"),
    ([("q", 3)], "pair 0 is not a (query, passage) pair"),
])
def test_bad_pairs_are_refused_naming_the_pair(reranker, pairs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        reranker.score(pairs)


def test_lengths_beyond_the_model_are_refused(reranker):
    with pytest.raises(ConfigurationError, match="max_length=1000 exceeds the 512 positions"):
        reranker.score(PAIRS, max_length=1000)
    with pytest.raises(ConfigurationError, match=r"query_max_length must be in \[1, 32\), got 32"):
        reranker.score(PAIRS, max_length=32, query_max_length=32)


def test_classifiers_that_are_not_rerankers_are_refused(fixtures_dir, tmp_path):
    two = shutil.copytree(fixtures_dir / "tiny-reranker", tmp_path / "two-labels")
    config = json.loads((two / "config.json").read_text())
    (two / "config.json").write_text(json.dumps({**config, "id2label": {"0": "no", "1": "yes"}}))
    with pytest.raises(ConfigurationError, match="a classifier with 2 labels: a reranker gives one relevance logit"):
        CrossEncoder.load(two)
    with pytest.raises(ConfigurationError, match="is not a cross-encoder: its architectures are"):
        CrossEncoder.load(fixtures_dir / "tiny-m3")
    with pytest.raises(CheckpointNotFoundError, match="no-such-reranker"):
        CrossEncoder.load(tmp_path / "no-such-reranker")
