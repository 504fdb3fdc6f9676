"""The real `finwatt` command in a child process, as a user runs it (`python -m profiler`).

End-to-end tests go through these two functions so that every one of them starts the CLI
the same way: this interpreter, the caller's environment plus `env`, text streams.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: `docs/`, `profiler/`, `tests/`."""

FINWATT = (sys.executable, "-m", "profiler")
"""The command line that starts finwatt with this interpreter, before its arguments."""


def run_finwatt(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `finwatt *args` to its end and capture what it prints.

    Args:
        *args: the command line after `finwatt`.
        env: variables set on top of this process's environment.
        stdin: text fed to its standard input; None leaves standard input inherited.
        cwd: its working directory; None keeps this process's.
        timeout: seconds before `subprocess.TimeoutExpired` fails the test.

    Returns:
        The finished process; its exit status is for the caller to assert.
    """
    return subprocess.run(
        [*FINWATT, *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def start_finwatt(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `finwatt *args` in the background with its output piped, for signals and polls.

    Args:
        *args: the command line after `finwatt`.
        env: variables set on top of this process's environment.

    Returns:
        The running process; the caller stops it (`communicate`, `send_signal`, `kill`).
    """
    return subprocess.Popen(
        [*FINWATT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def exec_document(stderr: str) -> dict[str, Any]:
    """Return the JSON document `finwatt exec --json` printed on stderr (after any log lines).

    Args:
        stderr: the command's standard error; the document is the last thing on it.

    Returns:
        The `finwatt.exec/1` document.
    """
    document: dict[str, Any] = json.loads(stderr[stderr.rindex('{\n  "schema": "finwatt.exec/') :])
    return document
