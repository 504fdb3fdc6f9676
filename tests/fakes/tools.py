"""The real tools the integration tests start: found on PATH, a free port, stopped after.

A missing tool skips its tests loudly on a developer machine and fails them under CI
(`CI` set), where `.ci/run` installs every one of them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest


def require_tools(*names: str, reason: str) -> tuple[str, ...]:
    """Return the path of each of `names` on PATH, or skip (fail under CI) with `reason`."""
    found = tuple(shutil.which(name) or "" for name in names)
    if all(found):
        return found
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """Return a port (TCP unless `kind` says UDP) free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Terminate `process`, and kill it when it has not ended within `timeout_s`."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
