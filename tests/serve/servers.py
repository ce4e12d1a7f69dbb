"""Test helpers for real server processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def wait_until_serving(proc: subprocess.Popen, url: str, timeout: float = 60) -> None:
    """Return once ``url/health`` answers 200; fail naming the output if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.communicate()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the server did not answer within {timeout:.0f} s")


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(*args: str) -> Iterator[str]:
    """``m3search serve ARGS`` as a real process on a free port (no API key from the environment);
    yields its URL once it answers, and stops it afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "m3search", "serve", *args, "--port", str(port), "-q"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={k: v for k, v in os.environ.items() if k != "M3SEARCH_API_KEY"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
