"""Every Python example in README.md and docs/ runs: one test per file, its blocks in order in one
namespace, in a temporary directory (where ``tests/`` and ``m3search/`` resolve as in the repository).

A block directly preceded by ``<!-- tested by tests/... -->`` is run by the test it names, not here.
A ``print(...)`` line ending in ``# → TEXT`` must print TEXT. A block that talks to
``http://127.0.0.1:8000`` runs against a real server of the tiny checkpoint on a free port.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER_URL = "http://127.0.0.1:8000"
TESTED_ELSEWHERE = re.compile(r"^<!-- tested by tests/\S+ -->$")
EXPECTED = re.compile(r"#\s*→\s*(.+?)\s*$")
REAL_MODELS = ("multilingual-e5-small", "bge-m3", "Encoder.load(\"BAAI")


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a Markdown text, less those another test runs.

    >>> python_blocks("x\\n```python\\na = 1\\n```\\n<!-- tested by tests/t.py -->\\n```python\\nb = 2\\n```\\n")
    ['a = 1\\n']
    """
    blocks, lines, i = [], text.splitlines(keepends=True), 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            previous = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
            if not TESTED_ELSEWHERE.match(previous):
                blocks.append("".join(lines[i + 1:end]))
            i = end
        i += 1
    return blocks


def expected_outputs(block: str) -> list[str]:
    """What the ``print`` lines of a block say they print (``# → TEXT``).

    >>> expected_outputs('print(1 + 1)  # → 2\\nx = 3  # → not a print\\n')
    ['2']
    """
    return [m.group(1) for line in block.splitlines() if line.lstrip().startswith("print(")
            for m in [EXPECTED.search(line)] if m]


def documented_files() -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in pages if python_blocks(p.read_text(encoding="utf-8"))]


def case(path: Path):
    code = "".join(python_blocks(path.read_text(encoding="utf-8")))
    slow = any(name in code for name in REAL_MODELS)
    return pytest.param(path, id=str(path.relative_to(ROOT)), marks=[pytest.mark.slow] if slow else [])


def test_the_examples_are_found():
    names = {str(p.relative_to(ROOT)) for p in documented_files()}
    assert {"README.md", "docs/guide/encode.md", "docs/guide/index-and-search.md"} <= names


@pytest.mark.parametrize("page", [case(p) for p in documented_files()])
def test_python_examples_run(page: Path, tmp_path, monkeypatch):
    for name in ("tests", "m3search"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for number, block in enumerate(python_blocks(page.read_text(encoding="utf-8")), start=1):
        where = f"{page.relative_to(ROOT)} block {number}"
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.ExitStack() as stack:
            if SERVER_URL in block:
                block = block.replace(SERVER_URL, stack.enter_context(running_server()))
            exec(compile(block, where, "exec"), namespace)  # noqa: S102 - our own documentation
        for expected in expected_outputs(block):
            assert expected in out.getvalue(), f"{where} should print {expected!r}, printed {out.getvalue()!r}"


@contextlib.contextmanager
def running_server():
    """``m3search serve`` of the tiny checkpoint on a free port, in a thread of this process."""
    import socket
    import threading
    import time

    import uvicorn

    from m3search.encode import Encoder
    from m3search.serve import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Encoder.load(ROOT / "tests" / "fixtures" / "tiny-m3", device="cpu"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
