"""The code base stays one a newcomer can change: small modules, short functions, distinct file
names, and a top-level import that loads only what it must (complexity is ruff's C901, in CI)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "m3search"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_over_60_lines():
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = length
    assert long == {}


def test_file_names_are_distinct():
    names = Counter(p.name for p in _modules() if p.name != "__init__.py")
    twice = {name: sorted(str(p.relative_to(PACKAGE)) for p in _modules() if p.name == name)
             for name, count in names.items() if count > 1}
    assert twice == {}


def test_importing_the_package_loads_no_index_search_eval_or_serve_module():
    code = ("import sys, m3search; print(sorted(m for m in sys.modules if m.split('.')[:2] in "
            "[['m3search', p] for p in ('index', 'search', 'eval', 'serve', 'encode', 'train')]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_names_resolve():
    import m3search

    assert m3search.evaluate.__module__ == "m3search.eval.metrics"
    assert m3search.Index.__name__ == "Index" and m3search.Searcher.__name__ == "Searcher"
    assert m3search.EncoderLike.__module__ == "m3search.protocols"
