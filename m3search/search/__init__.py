"""Searching an index (no torch): the :class:`Searcher`, its modes, fusion, explanations, filters."""

from __future__ import annotations

from .filter_args import parse_filters
from .fusion import RRF_K, reciprocal_rank_fusion, weighted_sum
from .modes import MODE_PARTS, MODES, check_mode, default_mode, modes_for, parts_for
from .searcher import Run, Searcher, to_run

__all__ = [
    "MODES", "MODE_PARTS", "RRF_K", "Run", "Searcher", "check_mode", "default_mode", "modes_for", "parse_filters",
    "parts_for", "reciprocal_rank_fusion", "to_run", "weighted_sum",
]
