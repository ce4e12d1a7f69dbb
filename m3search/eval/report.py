"""Tables of suite results: modes x subsets (like Table 1 of the M3 paper), cross-lingual
matrices, and groups (answer positions, languages), with significance marks (no torch).

A value marked ``†`` is significantly below the best row of its column (paired randomisation
test over the column's queries, two-sided, p < 0.05); the best row is marked ``*``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .metrics import paired_randomization

#: Significance level of the marks.
ALPHA = 0.05


@dataclass
class SuiteResult:
    """Metrics of every mode (row) on every subset of a suite, and per group where the suite has groups."""

    suite: str
    model: str
    metrics: tuple[str, ...]
    #: mode -> subset -> metric -> value
    scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: mode -> group (e.g. answer position) -> metric -> value, where the suite has groups
    groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: what the groups are ("answer position", "lang")
    group_label: str = "group"
    #: mode -> metric -> "subset/query id" -> value: what the significance tests compare
    per_query: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: a row that reranks another row's run -> that first stage's row
    first_stages: dict[str, str] = field(default_factory=dict)

    def p_vs_first_stage(self, metric: str) -> dict[str, dict[str, float]]:
        """Per rerank row, its mean difference from its first stage over every query and the
        paired randomisation p-value: ``{row: {"diff": d, "p": p}}``."""
        out = {}
        for row, first in self.first_stages.items():
            a, b = self.per_query.get(row, {}).get(metric), self.per_query.get(first, {}).get(metric)
            if a and b:
                diff, p = paired_randomization(a, b, trials=2000)
                out[row] = {"diff": diff, "p": p}
        return out

    def p_vs_best(self, metric: str, subset: str | None = None) -> dict[str, float]:
        """Per row, the p-value of its difference from the best row on ``subset`` (``None``:
        all queries, the average column); the best row gets 1.0. Empty without per-query values."""
        return self._significance(metric, subset)[1]

    def _significance(self, metric: str, subset: str | None) -> tuple[str | None, dict[str, float]]:
        if not self.per_query:
            return None, {}
        values = {}
        for row, by_metric in self.per_query.items():
            per_q = by_metric.get(metric, {})
            values[row] = per_q if subset is None else {k: v for k, v in per_q.items() if k.split("/", 1)[0] == subset}
        means = {row: float(np.mean(list(v.values()))) if v else -1.0 for row, v in values.items()}
        best = max(means, key=lambda r: means[r])
        return best, {row: 1.0 if row == best or not v else paired_randomization(values[best], v, trials=2000)[1]
                      for row, v in values.items()}

    def _marks(self, metric: str, subset: str | None) -> dict[str, str]:
        best, p = self._significance(metric, subset)
        if len(p) < 2:
            return {}
        return {row: "*" if row == best else "†" if value < ALPHA else " " for row, value in p.items()}

    def average(self, mode: str, metric: str) -> float:
        """Mean of ``metric`` over the subsets."""
        return float(np.mean([v[metric] for v in self.scores[mode].values()]))

    def _matrix(self, metric: str, pairs: list[str]) -> str:
        """Cross-lingual suites: one matrix per mode, rows = query language, columns = document language."""
        rows = list(dict.fromkeys(p.split("-")[0] for p in pairs))
        cols = list(dict.fromkeys(p.split("-")[1] for p in pairs))
        lines = []
        for mode, per_pair in self.scores.items():
            lines += [f"{self.suite} · {self.model} · {mode} · {metric} (rows: queries, columns: documents)",
                      "      " + "".join(f"{c:>7}" for c in cols) + f"{'avg':>7}"]
            for r in rows:
                values = [per_pair[f"{r}-{c}"][metric] for c in cols if f"{r}-{c}" in per_pair]
                lines.append(f"{r:<6}" + "".join(f"{v:>7.3f}" for v in values) + f"{np.mean(values):>7.3f}")
            lines.append(f"{'all':<6}{self.average(mode, metric):>7.3f}\n")
        return "\n".join(lines).rstrip()

    def to_json(self) -> dict[str, Any]:
        """Everything, with averages and the significance p-values against the best row
        (``p_vs_best``: metric -> subset or ``"avg"`` -> row -> p), as plain JSON."""
        significance = {}
        if self.per_query:
            for metric in self.metrics:
                subsets = list(next(iter(self.scores.values())))
                significance[metric] = {s: self.p_vs_best(metric, s) for s in subsets}
                significance[metric]["avg"] = self.p_vs_best(metric)
        return {"suite": self.suite, "model": self.model, "metrics": list(self.metrics), "scores": self.scores,
                "averages": {m: {k: self.average(m, k) for k in self.metrics} for m in self.scores},
                "groups": self.groups, "group_label": self.group_label, "p_vs_best": significance,
                **({"p_vs_first_stage": {m: self.p_vs_first_stage(m) for m in self.metrics}} if self.first_stages else {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SuiteResult:
        """Read back what :meth:`to_json` wrote (per-query values are not kept there)."""
        return cls(data["suite"], data["model"], tuple(data["metrics"]), data["scores"], data.get("groups", {}),
                   data.get("group_label", "group"))

    def table(self, metric: str | None = None) -> str:
        """Rows = modes, columns = subsets and their average (like Table 1 of the M3 paper)."""
        metric = metric or self.metrics[0]
        subsets = list(next(iter(self.scores.values())))
        if all(s.count("-") == 1 for s in subsets):
            return self._matrix(metric, subsets)
        width = max(7, max(len(s) for s in subsets) + 2)
        marks = {s: self._marks(metric, s) for s in [*subsets, None]}
        lines = [f"{self.suite} · {self.model} · {metric}",
                 f"{'mode':<14}" + "".join(f"{s:>{width}}" for s in subsets) + f"{'avg':>{width}}"]
        for mode, per_subset in self.scores.items():
            cells = [f"{per_subset[s][metric]:.3f}{marks[s].get(mode, '')}" for s in subsets]
            cells.append(f"{self.average(mode, metric):.3f}{marks[None].get(mode, '')}")
            lines.append(f"{mode:<14}" + "".join(f"{c:>{width}}" for c in cells))
        if any(marks.values()):
            lines.append(f"(* best row; † below it, paired randomisation p < {ALPHA})")
        for row, test in self.p_vs_first_stage(metric).items():
            lines.append(f"{row} against {self.first_stages[row]}: {test['diff']:+.3f} (p {test['p']:.3f})")
        if self.groups:
            groups = list(next(iter(self.groups.values())))
            lines.append(f"\nby {self.group_label} · {metric}")
            lines.append(f"{'mode':<14}" + "".join(f"{g:>8}" for g in groups))
            for mode, per_group in self.groups.items():
                lines.append(f"{mode:<14}" + "".join(f"{per_group[g][metric]:>8.3f}" for g in groups))
        return "\n".join(lines)
