"""Pictures and a one-page report of a :class:`~m3search.eval.report.SuiteResult` (matplotlib, no torch).

- ``*-bars.png``: every row (mode or baseline) per subset, grouped bars, with the average;
- ``*-heatmap-MODE.png``: cross-lingual suites (subsets named ``query-document``): the
  language matrix of each mode;
- ``*-groups.png``: where results are grouped (answer position, language): one line per row.

:func:`write_html` gathers the tables and the pictures (embedded) in one self-contained page.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..io.atomic import atomic_write_text
from .report import SuiteResult


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigurationError("plots need matplotlib: pip install 'm3search[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _cross(subsets: list[str]) -> bool:
    return all(s.count("-") == 1 for s in subsets)


def write_plots(result: SuiteResult, directory: str | Path, metric: str | None = None) -> list[Path]:
    """Write the PNGs for ``result`` into ``directory``; returns their paths."""
    plt = _pyplot()
    metric = metric or result.metrics[0]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{result.suite}-{Path(str(result.model)).name}-{metric.replace('@', '')}"
    rows = list(result.scores)
    subsets = list(next(iter(result.scores.values())))
    written = []
    if _cross(subsets):
        queries = list(dict.fromkeys(s.split("-")[0] for s in subsets))
        documents = list(dict.fromkeys(s.split("-")[1] for s in subsets))
        for row in rows:
            matrix = np.full((len(queries), len(documents)), np.nan)
            for s, by_metric in result.scores[row].items():
                q, d = s.split("-")
                matrix[queries.index(q), documents.index(d)] = by_metric[metric]
            fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(documents), 0.8 + 0.5 * len(queries)))
            image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(len(documents)), documents)
            ax.set_yticks(range(len(queries)), queries)
            ax.set_xlabel("document language")
            ax.set_ylabel("query language")
            for i in range(len(queries)):
                for j in range(len(documents)):
                    if not np.isnan(matrix[i, j]):
                        ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if matrix[i, j] < 0.6 else "black")
            ax.set_title(f"{result.suite} · {row} · {metric}")
            fig.colorbar(image, ax=ax, shrink=0.8)
            written.append(_save(fig, plt, directory / f"{stem}-heatmap-{row.replace('+', '_')}.png"))
    else:
        columns = [*subsets, "avg"]
        fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(columns) * max(1, len(rows)) / 3), 4.2))
        width = 0.8 / max(1, len(rows))
        x = np.arange(len(columns))
        for k, row in enumerate(rows):
            heights = [result.scores[row][s][metric] for s in subsets] + [result.average(row, metric)]
            ax.bar(x + (k - (len(rows) - 1) / 2) * width, heights, width, label=row)
        ax.set_xticks(x, columns)
        ax.set_ylabel(metric)
        ax.set_ylim(0, 1)
        ax.set_title(f"{result.suite} · {result.model}")
        ax.legend(fontsize=8, ncol=min(len(rows), 6), loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
        ax.grid(axis="y", alpha=0.3)
        written.append(_save(fig, plt, directory / f"{stem}-bars.png"))
    if result.groups:
        groups = list(next(iter(result.groups.values())))
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for row, per_group in result.groups.items():
            ax.plot(groups, [per_group[g][metric] for g in groups], marker="o", label=row)
        ax.set_xlabel(result.group_label)
        ax.set_ylabel(metric)
        ax.set_title(f"{result.suite} · {result.model} · by {result.group_label}")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        written.append(_save(fig, plt, directory / f"{stem}-groups.png"))
    return written


def _save(fig: Any, plt: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_html(results: list[SuiteResult], images: list[Path], path: str | Path) -> Path:
    """One self-contained HTML page: every result's tables, then the pictures (embedded)."""
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>m3search evaluation</title>",
             ("<style>body{font:14px system-ui,sans-serif;max-width:72rem;margin:1rem auto;padding:0 1rem}"
              "pre{background:#f5f6f8;padding:.8rem;overflow-x:auto}img{max-width:100%;margin:.5rem 0}</style>"),
             "</head><body><h1>m3search evaluation</h1>"]
    for result in results:
        parts.append(f"<h2>{html.escape(result.suite)} · {html.escape(str(result.model))}</h2>")
        for metric in result.metrics:
            parts.append(f"<pre>{html.escape(result.table(metric))}</pre>")
    for image in images:
        data = base64.b64encode(Path(image).read_bytes()).decode()
        parts.append(f"<figure><img alt='{html.escape(image.name)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(image.name)}</figcaption></figure>")
    parts.append("</body></html>")
    path = Path(path)
    atomic_write_text(path, "\n".join(parts))
    return path
