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


@pytest.mark.parametrize("teacher", ["cross-encoder", "m3"])
def test_teacher_scores_are_mined_and_distilled(tiny_m3_path, tmp_path, teacher):
    import json

    from m3search import CrossEncoder, Encoder
    from m3search.cli import main
    from m3search.scoring import pair_scores
    from m3search.train.groups import read_groups
    from tests.train.batches import write_train_file

    source = write_train_file(tmp_path / "groups.jsonl", repeat=2)
    reranker = tiny_m3_path.parent / "tiny-reranker"
    model = str(reranker) if teacher == "cross-encoder" else "m3"
    mined = tmp_path / "mined.jsonl"
    assert main(["mine", str(source), "-o", str(mined), "--model", str(tiny_m3_path), "--negatives", "2",
                 "--range", "1-10", "--teacher", model, "-q"]) == 0
    groups = read_groups(mined)
    g = groups[0]
    assert len(g.neg_scores) == len(g.neg) == 2 and len(g.pos_scores) == len(g.pos)
    passages = [*g.pos, *g.neg]
    if teacher == "cross-encoder":
        expected = CrossEncoder.load(reranker, device="cpu").score([(g.query, p) for p in passages])
    else:
        enc = Encoder.load(tiny_m3_path, device="cpu")
        expected = pair_scores(enc.encode([g.query] * len(passages), role="query", parts="all"),
                               enc.encode(passages, parts="all"))["colbert+sparse+dense"]
    np.testing.assert_allclose([*g.pos_scores, *g.neg_scores], expected, atol=1e-5)
    out = tmp_path / "distilled"
    assert main(["train", "--train-data", str(mined), "--model", str(tiny_m3_path), "--output-dir", str(out),
                 "--knowledge-distillation", "true", "--max-steps", "2", "--batch-size", "2", "--group-size", "3",
                 "--device", "cpu", "--show-progress", "false", "--plot", "false"]) == 0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log and all(np.isfinite(entry["loss"]) for entry in log)
    assert json.loads((out / "train_config.json").read_text())["knowledge_distillation"] is True


def test_teacher_options_are_checked(tiny_m3_path, tmp_path, capsys):
    from m3search.cli import main
    from tests.train.batches import write_train_file

    source = write_train_file(tmp_path / "groups.jsonl", repeat=1)
    assert main(["mine", str(source), "-o", str(tmp_path / "o.jsonl"), "--no-mining"]) == 2
    assert "give --teacher MODEL" in capsys.readouterr().err
    assert main(["mine", str(source), "-o", str(tmp_path / "o.jsonl"), "--teacher", str(tiny_m3_path)]) == 2
    assert "is not a cross-encoder" in capsys.readouterr().err
