"""`finwatt exec` end to end: real processes, the real CLI, a real database."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from profiler.store.database import Store
from tests.fakes.cli import FINWATT, exec_document, run_finwatt, run_finwatt_process

BURN = str(Path(__file__).with_name("burn.py"))


def _exec(
    db: Path, *args: str, timeout: float = 60, child: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `finwatt exec --json`; `child` runs finwatt in a process of its own.

    The job inherits finwatt's file descriptors, so only a finwatt child shows the job's
    own output in the captured stdout (in this process it reaches pytest's descriptor).
    """
    run = run_finwatt_process if child else run_finwatt
    return run("exec", "--db", str(db), "--json", *args, timeout=timeout)


def _document(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return exec_document(done.stderr)


def test_exec_passes_the_exit_status_through_and_stores_a_job_run(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    done = _exec(
        db,
        "--tag",
        "desk=rates",
        "--interval",
        "0.1s",
        "--",
        "sh",
        "-c",
        "echo out; sleep 0.3; exit 3",
        child=True,  # the job's stdout ahead of the document is what this checks
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "out\n"  # stdout is the job's alone, untouched
    document = _document(done)
    assert document["exit_status"] == 3
    assert document["provenance"].startswith("attributed:cpu-time(")
    with Store(db) as store:
        run = store.runs.get(document["run"])
        job = store.jobs.get(document["run"])
    assert run is not None and run.kind == "job" and run.status == "complete"
    assert job is not None and job.tags == {"desk": "rates"}
    assert job.command == ["sh", "-c", "echo out; sleep 0.3; exit 3"]


def test_exec_exits_128_plus_n_when_the_job_dies_of_signal_n(tmp_path: Path) -> None:
    done = _exec(tmp_path / "f.db", "--", "sh", "-c", "kill -TERM $$")
    assert done.returncode == 143, done.stderr
    assert _document(done)["exit_status"] == 143


def test_exec_counts_the_cpu_time_of_children_that_exit_early(tmp_path: Path) -> None:
    script = tmp_path / "batch.sh"
    script.write_text(
        f"{sys.executable} {BURN} 0.6 1 &\n{sys.executable} {BURN} 0.4 1\nwait\nsleep 0.6\n"
        'echo 250 > "$FINWATT_UNITS_FILE"\n',
        encoding="utf-8",
    )
    done = _exec(
        tmp_path / "f.db", "--interval", "0.2s", "--unit", "trades", "--", "sh", str(script)
    )
    assert done.returncode == 0, done.stderr
    document = _document(done)
    # both burners exited 0.6 s before the job: their 1.0 CPU s still counts (+ startups)
    assert 1.0 <= document["cpu_s"] <= 1.8
    assert document["units"] == 250 and document["unit"] == "trades"
    assert document["j_per_unit"] == pytest.approx(document["energy_j"] / 250)


def test_a_missing_command_is_bad_input_and_stores_nothing(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    done = run_finwatt("exec", "--db", str(db), "--", "no-such-command-finwatt")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "command not found" in done.stderr
    with Store(db) as store:
        assert store.runs.all() == []


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 42), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_are_forwarded_to_the_job_and_the_run_is_stored(
    tmp_path: Path, signum: int, status: int
) -> None:
    db, ready = tmp_path / "f.db", tmp_path / "ready"
    job = (
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        f"pathlib.Path({str(ready)!r}).write_text('ready')\n"
        "time.sleep(30)\n"
    )
    # a session of its own: no controlling terminal, as under a scheduler
    finwatt = subprocess.Popen(
        [*FINWATT, "exec", "--db", str(db), "--json", "--", sys.executable, "-c", job],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    finwatt.send_signal(signum)
    out, err = finwatt.communicate(timeout=30)
    assert finwatt.returncode == status, err
    assert out == ""  # the job printed nothing; finwatt's document went to stderr
    document = exec_document(err)
    with Store(db) as store:
        run = store.runs.get(document["run"])
        job_row = store.jobs.get(document["run"])
    assert run is not None and run.status == "interrupted"
    assert job_row is not None and job_row.exit_status == status


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [("--idle-share", "half", "none, cpu-time, cores"), ("--tag", "nokey", "KEY=VALUE")],
)
def test_bad_exec_options_are_one_line_usage_errors(
    tmp_path: Path, option: str, value: str, named: str
) -> None:
    done = run_finwatt("exec", "--db", str(tmp_path / "f.db"), option, value, "--", "true")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and named in done.stderr
