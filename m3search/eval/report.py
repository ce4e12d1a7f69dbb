"""Tables of suite results: modes x subsets (like Table 1 of the M3 paper), cross-lingual
matrices, and answer-position groups (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
        """Everything, with averages, as plain JSON."""
        return {"suite": self.suite, "model": self.model, "metrics": list(self.metrics), "scores": self.scores,
                "averages": {m: {k: self.average(m, k) for k in self.metrics} for m in self.scores},
                "groups": self.groups}

    def table(self, metric: str | None = None) -> str:
        """Rows = modes, columns = subsets and their average (like Table 1 of the M3 paper)."""
        metric = metric or self.metrics[0]
        subsets = list(next(iter(self.scores.values())))
        if all(s.count("-") == 1 for s in subsets):
            return self._matrix(metric, subsets)
        width = max(6, max(len(s) for s in subsets) + 1)
        lines = [f"{self.suite} · {self.model} · {metric}",
                 f"{'mode':<14}" + "".join(f"{s:>{width}}" for s in subsets) + f"{'avg':>{width}}"]
        for mode, per_subset in self.scores.items():
            lines.append(f"{mode:<14}" + "".join(f"{per_subset[s][metric]:>{width}.3f}" for s in subsets)
                         + f"{self.average(mode, metric):>{width}.3f}")
        if self.groups:
            groups = list(next(iter(self.groups.values())))
            lines.append(f"\nby answer position · {metric}")
            lines.append(f"{'mode':<14}" + "".join(f"{g:>8}" for g in groups))
            for mode, per_group in self.groups.items():
                lines.append(f"{mode:<14}" + "".join(f"{per_group[g][metric]:>8.3f}" for g in groups))
        return "\n".join(lines)
