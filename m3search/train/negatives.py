"""Hard negatives mined with a model and the project's own index (FlagEmbedding's ``hn_mine``).

For each source (or for all groups at once), the unique passages are encoded and put in a
temporary dense index; each query retrieves its top ``depth`` passages; positives are skipped;
with ``relative_margin`` m, a candidate must score below ``(1 - m)`` times the query's best
positive (sentence-transformers' ``relative_margin``; NV-Retriever recommends 0.05), which keeps
unlabelled positives out; then ``negatives`` are sampled from the ranks ``rank_range``
(1-based, inclusive), as ``hn_mine``'s ``range_for_sampling`` does.

With a margin, a query can be left with fewer negatives than asked (e5's cosines are
compressed, so for some queries every candidate is within 5% of the positive). ``fill_random``
then tops each group up with random passages of its own source that are not its positives
(drawn after mining, with their own random stream), so that every group can train.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigurationError
from ..index import Index
from ..progress import progress_bar
from .groups import TrainGroup

if TYPE_CHECKING:
    from ..protocols import EncoderLike


def mine_negatives(encoder: EncoderLike, groups: Sequence[TrainGroup], *, negatives: int = 7,
                   rank_range: tuple[int, int] = (2, 200), relative_margin: float | None = None,
                   per_source: bool = True, seed: int = 0, keep_existing: bool = False,
                   fill_random: bool = False, show_progress: bool = True) -> list[TrainGroup]:
    """``groups`` with mined negatives (replacing theirs unless ``keep_existing``)."""
    low, high = rank_range
    if not 1 <= low <= high:
        raise ConfigurationError(f"rank range must be 1 <= low <= high, got {low}-{high}")
    if negatives < 1:
        raise ConfigurationError(f"negatives must be >= 1, got {negatives}")
    if relative_margin is not None and not 0 <= relative_margin < 1:
        raise ConfigurationError(f"relative_margin must be in [0, 1), got {relative_margin}")
    pools: dict[str | None, list[int]] = {}
    for i, g in enumerate(groups):
        pools.setdefault(g.source if per_source else None, []).append(i)
    rng = random.Random(seed)
    out = list(groups)
    with progress_bar(len(groups), "mine", "query", show_progress) as bar:
        for pool in sorted(pools, key=lambda s: s or ""):
            members = pools[pool]
            for i, mined in zip(members, _mine_pool(encoder, [groups[i] for i in members], negatives, low, high,
                                                   relative_margin, rng, show_progress)):
                g = groups[i]
                neg = tuple(dict.fromkeys((*g.neg, *mined))) if keep_existing else tuple(mined)
                out[i] = replace(g, neg=neg, neg_scores=None, pos_scores=None)
            bar.update(len(members))
    return fill_random_negatives(out, negatives, seed=seed, per_source=per_source) if fill_random else out


def fill_random_negatives(groups: Sequence[TrainGroup], negatives: int, *, seed: int = 0,
                          per_source: bool = True) -> list[TrainGroup]:
    """Top up every group to ``negatives`` with random passages of its pool that are not its positives.

    >>> gs = [TrainGroup("q1", ("a",), ()), TrainGroup("q2", ("b",), ()), TrainGroup("q3", ("c",), ("a",))]
    >>> [len(g.neg) for g in fill_random_negatives(gs, 2)], "a" in fill_random_negatives(gs, 2)[0].neg
    ([2, 2, 2], False)
    """
    rng = random.Random(f"fill-{seed}")
    pools: dict[str | None, list[str]] = {}
    for g in groups:
        pool = pools.setdefault(g.source if per_source else None, [])
        pool.extend(g.pos)
    pools = {k: sorted(set(v)) for k, v in pools.items()}
    out = []
    for g in groups:
        missing = negatives - len(g.neg)
        if missing <= 0:
            out.append(g)
            continue
        pool = [t for t in pools[g.source if per_source else None] if t not in g.pos and t not in g.neg]
        extra = rng.sample(pool, min(missing, len(pool)))
        out.append(replace(g, neg=(*g.neg, *extra), neg_scores=None, pos_scores=None))
    return out


def _mine_pool(encoder: EncoderLike, groups: list[TrainGroup], negatives: int, low: int, high: int,
               relative_margin: float | None, rng: random.Random, show_progress: bool) -> list[list[str]]:
    passages = sorted({t for g in groups for t in (*g.pos, *g.neg)})
    position = {t: i for i, t in enumerate(passages)}
    docs = encoder.encode(passages, role="document", parts=("dense",), show_progress=show_progress)
    queries = encoder.encode([g.query for g in groups], role="query", parts=("dense",), show_progress=show_progress)
    ids = [str(i) for i in range(len(passages))]
    depth = min(high + max(len(g.pos) for g in groups), len(passages))
    with tempfile.TemporaryDirectory(prefix="m3search-mine-") as tmp:
        index = Index.create(Path(tmp) / "pool", encoder.identity, parts=("dense",))
        try:
            index.add(ids, docs, show_progress=False)
            hits = index.query("dense", queries, depth, exact=True)
        finally:
            index.close()
    assert docs.dense is not None and queries.dense is not None
    mined: list[list[str]] = []
    for g, q, found in zip(groups, queries.dense, hits):
        positives = {position[p] for p in g.pos}
        best_positive = max(float(np.dot(q, docs.dense[p])) for p in positives)
        ranked = [int(h.doc_id) for h in found if int(h.doc_id) not in positives
                  and (relative_margin is None or h.score < (1 - relative_margin) * best_positive)]
        window = ranked[low - 1 : high]
        chosen = rng.sample(window, min(negatives, len(window)))
        mined.append([passages[j] for j in chosen])
    return mined
