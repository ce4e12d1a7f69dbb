"""Retrieval metrics through ``ir-measures`` (trec_eval semantics), with per-query values kept.

Runs and qrels are plain dicts: ``run = {qid: {docid: score}}``, ``qrels = {qid: {docid: grade}}``.
Metric names are ir-measures' (``nDCG@10``, ``R@100``, ``AP@20``, ``RR@10``); the aliases
``Recall@k``, ``MRR@k`` and ``mAP@k`` are accepted and reported under the name given.

>>> result = evaluate({"q1": {"d1": 0.9, "d2": 0.5}, "q2": {"d3": 0.1}},
...                   {"q1": {"d2": 1}, "q2": {"d3": 1}}, ["MRR@10", "nDCG@10"])
>>> result.aggregate["MRR@10"], round(result.aggregate["nDCG@10"], 4)
(0.75, 0.8155)
>>> result.per_query["MRR@10"]
{'q1': 0.5, 'q2': 1.0}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigurationError
from ..types import Qrels, Run  # noqa: F401 - the shared names, re-exported

#: The metrics reported when none are named, everywhere (API, CLI, suites).
DEFAULT_METRICS = ("nDCG@10", "Recall@100", "MRR@10")
_ALIASES = {"recall": "R", "mrr": "RR", "map": "AP", "ndcg": "nDCG", "p": "P"}


def measure_name(name: str) -> str:
    """The ir-measures spelling of a metric name.

    >>> measure_name("MRR@10"), measure_name("Recall@100"), measure_name("nDCG@10"), measure_name("mAP@20")
    ('RR@10', 'R@100', 'nDCG@10', 'AP@20')
    """
    match = re.fullmatch(r"([A-Za-z_]+)(@\d+)?", name)
    if not match:
        raise ConfigurationError(f"cannot read metric name {name!r}; use e.g. nDCG@10, Recall@100, MRR@10")
    base, cutoff = match.group(1), match.group(2) or ""
    return _ALIASES.get(base.lower(), base) + cutoff


@dataclass(frozen=True)
class EvalResult:
    """Mean of each metric over queries, and each query's value (queries absent from the run score 0)."""

    aggregate: dict[str, float]
    per_query: dict[str, dict[str, float]]

    def by_group(self, groups: Mapping[str, str]) -> dict[str, dict[str, float]]:
        """Mean of each metric per group (e.g. per language), from ``{qid: group}``.

        >>> EvalResult({"m": 0.5}, {"m": {"a": 1.0, "b": 0.0, "c": 0.5}}).by_group({"a": "de", "b": "de", "c": "ru"})
        {'de': {'m': 0.5}, 'ru': {'m': 0.5}}
        """
        out: dict[str, dict[str, list[float]]] = {}
        for metric, values in self.per_query.items():
            for qid, value in values.items():
                if qid in groups:
                    out.setdefault(groups[qid], {}).setdefault(metric, []).append(value)
        return {g: {m: float(np.mean(v)) for m, v in metrics.items()} for g, metrics in sorted(out.items())}


def evaluate(run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]], metrics: Sequence[str] = DEFAULT_METRICS) -> EvalResult:
    """Evaluate ``run`` against ``qrels``.

    Args:
        run: ``{query_id: {doc_id: score}}``, e.g. from :meth:`Searcher.run <m3search.search.Searcher.run>`.
        qrels: ``{query_id: {doc_id: relevance grade}}``.
        metrics: ir-measures names (``nDCG@10``, ``R@100``, ``RR@10``, ``AP@20``) or the aliases
            ``Recall@k``, ``MRR@k``, ``mAP@k``.

    Every query with relevance judgements counts; a query the run misses scores 0
    (trec_eval's ``-c``), so a system cannot gain by skipping hard queries.

    >>> r = evaluate({"q1": {"d1": 2.0, "d2": 1.0}}, {"q1": {"d2": 1}, "q2": {"d9": 1}}, ["MRR@10"])
    >>> r.aggregate, r.per_query["MRR@10"]
    ({'MRR@10': 0.25}, {'q1': 0.5, 'q2': 0.0})
    """
    import ir_measures

    if not metrics:
        raise ConfigurationError("no metrics asked for")
    names = {measure_name(m): m for m in metrics}
    measures = [ir_measures.parse_measure(n) for n in names]
    judged = {q: {d: int(g) for d, g in docs.items()} for q, docs in qrels.items() if docs}
    scored = {q: {d: float(s) for d, s in docs.items()} for q, docs in run.items() if q in judged and docs}
    per_query: dict[str, dict[str, float]] = {m: {q: 0.0 for q in judged} for m in metrics}
    for metric in ir_measures.iter_calc(measures, judged, scored):
        per_query[names[str(metric.measure)]][metric.query_id] = float(metric.value)
    aggregate = {m: float(np.mean(list(v.values()))) if v else 0.0 for m, v in per_query.items()}
    return EvalResult(aggregate, per_query)


def paired_randomization(a: Mapping[str, float], b: Mapping[str, float], *, trials: int = 10_000,
                         seed: int = 0) -> tuple[float, float]:
    """Mean of ``a - b`` over the queries both hold, and its two-sided p-value by a paired
    randomisation (sign-flip) test.

    >>> diff, p = paired_randomization({"q1": 1.0, "q2": 1.0, "q3": 1.0}, {"q1": 0.0, "q2": 0.0, "q3": 0.0})
    >>> diff, round(p, 1)   # all 3 signs agree in 2 of the 8 sign patterns
    (1.0, 0.2)
    """
    common = sorted(set(a) & set(b))
    if not common:
        raise ConfigurationError("the two systems share no query")
    diffs = np.array([a[q] - b[q] for q in common])
    observed = abs(diffs.mean())
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(trials, len(diffs)))
    extreme = (np.abs((signs * diffs).mean(axis=1)) >= observed - 1e-12).sum()
    return float(diffs.mean()), float((extreme + 1) / (trials + 1))
