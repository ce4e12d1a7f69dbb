"""Mining hard negatives with the fake encoder: ranks, positives skipped, the margin, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from m3search.errors import ConfigurationError
from m3search.train.groups import TrainGroup
from m3search.train.negatives import mine_negatives
from tests.corpora import make_corpus

CORPUS = [d["text"] for d in make_corpus(60)]


def groups() -> list[TrainGroup]:
    return [TrainGroup(" ".join(CORPUS[i].split()[:3]), (CORPUS[i],), (), source="a" if i < 30 else "b")
            for i in range(0, 60, 3)] + [TrainGroup("filler", (text,), (), source="a" if i < 30 else "b")
                                          for i, text in enumerate(CORPUS) if i % 3]


def test_negatives_come_from_the_rank_range_and_skip_positives(fake_encoder):
    original = groups()
    mined = mine_negatives(fake_encoder, original, negatives=3, rank_range=(1, 5), show_progress=False)
    for before, after in zip(original, mined):
        assert len(after.neg) == 3 and not set(after.neg) & set(after.pos)
        q = fake_encoder.encode([before.query], role="query").dense[0]
        pool = sorted({t for g in original if g.source == before.source for t in g.pos} - set(before.pos))
        scores = fake_encoder.encode(pool).dense @ q
        top5 = {pool[j] for j in np.argsort(-scores)[:5]}
        assert set(after.neg) <= top5  # ranks 1-5 among the non-positives of its own source


def test_relative_margin_drops_near_positives(fake_encoder):
    original = groups()[:5]
    mined = mine_negatives(fake_encoder, groups(), negatives=50, rank_range=(1, 60), relative_margin=0.5,
                           show_progress=False)[:5]
    for before, after in zip(original, mined):
        q = fake_encoder.encode([before.query], role="query").dense[0]
        positive = float(fake_encoder.encode(list(before.pos)).dense[0] @ q)
        scores = fake_encoder.encode(list(after.neg)).dense @ q if after.neg else np.array([])
        assert (scores < 0.5 * positive + 1e-6).all()


def test_bad_options_are_refused(fake_encoder):
    with pytest.raises(ConfigurationError, match="rank range"):
        mine_negatives(fake_encoder, groups(), rank_range=(5, 2))
    with pytest.raises(ConfigurationError, match="relative_margin"):
        mine_negatives(fake_encoder, groups(), relative_margin=1.5)
