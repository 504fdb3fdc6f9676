"""A closed or broken stdout: exit 1, one line or none on stderr, nothing recorded lost.

`finwatt runs >&-` (stdout closed when finwatt starts) and `finwatt runs | head -0`
(the reader gone before finwatt writes) through the real console script. The broken
pipe is made deterministic: the pipe's read end is closed before the child starts.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.robustness.contract import BASE_DOCUMENT, Home, assert_one_line_error, row_counts

FINWATT = str(Path(sys.executable).with_name("finwatt"))


def _finwatt(home: Home, *args: str, stdout: str) -> subprocess.CompletedProcess[str]:
    """Run finwatt with stdout `closed` (fd 1 closed) or `broken` (a pipe with no reader)."""
    env = {**os.environ, **home.env}
    if stdout == "closed":
        result = subprocess.run(
            [FINWATT, *args],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            preexec_fn=lambda: os.close(1),  # the child's own fd 1, nothing else
        )
        result.stdout = ""  # there was none to read
        return result
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [FINWATT, *args],
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)


def _stored(home: Home) -> dict[str, object]:
    """What the database holds, read the ordinary way."""
    result = subprocess.run(
        [FINWATT, "runs", "--json"],
        env={**os.environ, **home.env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _import_base(home: Home) -> None:
    path = home.root / "base.json"
    path.write_text(json.dumps(BASE_DOCUMENT))
    subprocess.run(
        [FINWATT, "import", str(path)],
        env={**os.environ, **home.env},
        capture_output=True,
        check=True,
        timeout=120,
    )


@pytest.mark.parametrize("args", [("runs",), ("runs", "--json"), ("--version",)])
def test_a_closed_stdout_is_one_line_and_exit_1(home: Home, args: tuple[str, ...]) -> None:
    _import_base(home)
    before = row_counts(home.db)
    result = _finwatt(home, *args, stdout="closed")
    assert_one_line_error(result, 1, "stdout is closed")
    assert row_counts(home.db) == before


@pytest.mark.parametrize("args", [("runs",), ("runs", "--json"), ("--version",), ("-h",)])
def test_a_broken_pipe_ends_silently_with_exit_1(home: Home, args: tuple[str, ...]) -> None:
    _import_base(home)
    result = _finwatt(home, *args, stdout="broken")
    assert (result.returncode, result.stderr) == (1, "")


def test_a_job_run_with_stdout_closed_writes_nothing_into_the_database(home: Home) -> None:
    # With fd 1 closed, the database would be opened on fd 1 and the job's output (which
    # inherits fd 1) would be written into it; finwatt puts /dev/null there first.
    _import_base(home)
    writes = "import os\ntry:\n    os.write(1, b'JUNK' * 4096)\nexcept OSError:\n    pass"
    job = [sys.executable, "-c", writes]
    result = _finwatt(home, "exec", "--", *job, stdout="closed")
    assert "Traceback" not in result.stderr
    with sqlite3.connect(f"file:{home.db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert b"JUNKJUNK" not in home.db.read_bytes()
    runs = _stored(home)["runs"]
    assert isinstance(runs, list) and len(runs) == 2  # the imported run and the job's
