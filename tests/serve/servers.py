"""Test helpers for real server processes."""

from __future__ import annotations

import subprocess
import time

import httpx


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
