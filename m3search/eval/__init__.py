"""Evaluation (no torch): metrics through ir-measures, BEIR and TREC files, the bundled suites,
the runner that searches every mode of a suite, and its report tables."""

from __future__ import annotations

from .beir import BeirData, read_beir, read_qrels, write_beir
from .metrics import DEFAULT_METRICS, EvalResult, Qrels, evaluate, measure_name, paired_randomization
from .report import SuiteResult
from .runner import run_suite
from .suites import SUITES, build_suite
from .trec import read_trec_run, write_trec_run

__all__ = [
    "DEFAULT_METRICS", "SUITES", "BeirData", "EvalResult", "Qrels", "SuiteResult", "build_suite", "evaluate",
    "measure_name", "paired_randomization", "read_beir", "read_qrels", "read_trec_run", "run_suite", "write_beir",
    "write_trec_run",
]
