"""Every Python example in the README runs (in order, sharing one namespace, in a temporary directory)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        if SERVER_URL in block:  # an example against `m3search serve`: run it against a real one
            with running_server() as url:
                exec(compile(block.replace(SERVER_URL, url), "README.md", "exec"), namespace)  # noqa: S102
            continue
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert "everest" in out and "q1" in out
    assert len(namespace["vectors"][0].embedding) == 32  # the server example ran (tiny model)


SERVER_URL = "http://127.0.0.1:8000"


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
    app = create_app(Encoder.load(Path(__file__).parent / "fixtures" / "tiny-m3", device="cpu"))
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
