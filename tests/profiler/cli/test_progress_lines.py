"""A run without a terminal: one log line per phase, a heartbeat, and JSON log lines."""

import itertools
import json
import logging
import time
from pathlib import Path

import pytest

from profiler.cli.logs import JsonFormatter, TextFormatter
from profiler.workflows.run_log import HEARTBEAT_S, PROGRESS_LOGGER, LineProgress
from tests.fakes.cli import run_finwatt


def test_a_run_with_stderr_in_a_pipe_logs_each_phase_as_json(tmp_path: Path) -> None:
    result = run_finwatt(
        "--log-format", "json", "run", "ledger", "--levels", "1,0", "--phase-seconds", "2",
        "--size", "small", "--db", str(tmp_path / "f.db"), timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    run_ids = {r["run_id"] for r in records}
    assert len(run_ids) == 1 and next(iter(run_ids)) in result.stdout
    assert records[0]["event"] == "run_start"
    starts = [r["stage"] for r in records if r["event"] == "phase_start"]
    assert starts[:2] == ["prepare", "calibrate"]
    # a level the runner measures again (a busy machine) has a second line, "100% again"
    levels = [stage for stage in starts[2:] if not stage.endswith(" again")]
    assert levels == ["100%", "0%"]
    done = [r for r in records if r["event"] == "phase_done"]
    assert len(done) == len(levels)  # one line as each phase begins, one as it is stored
    assert all(r["status"] == "done" for r in done)
    assert all(r["level"] == "info" and r["timestamp"].endswith("Z") for r in records)
    assert "\r" not in result.stderr and "━" not in result.stderr  # no progress bar


def test_heartbeat_lines_come_when_a_phase_is_long(caplog: pytest.LogCaptureFixture) -> None:
    assert HEARTBEAT_S <= 30
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    with LineProgress("run-1", total_s=10.0, heartbeat_s=0.1) as progress:
        progress.stage("risk", "cpu", "100%", 5.0)
        time.sleep(0.45)
    records = [r for r in caplog.records if r.name == PROGRESS_LOGGER]
    events = [getattr(r, "event", None) for r in records]
    assert events[0] == "phase_start"
    beats = [r for r in records if getattr(r, "event", None) == "heartbeat"]
    assert 2 <= len(beats) <= 5
    assert "still running: risk on cpu: 100%" in beats[0].getMessage()
    gaps = [b.created - a.created for a, b in itertools.pairwise(records)]
    assert max(gaps) < 0.1 + 0.15  # at most one heartbeat period without a line (+ slack)


def test_no_heartbeat_while_lines_come_often_enough(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    with LineProgress("run-2", total_s=10.0, heartbeat_s=5.0) as progress:
        for level in ("100%", "50%", "0%"):
            progress.stage("ledger", "cpu", level, 0.01)
    assert not [r for r in caplog.records if getattr(r, "event", None) == "heartbeat"]


def test_the_two_formats_of_one_record() -> None:
    record = logging.makeLogRecord(
        {"msg": "run %s: %s", "args": ("r1", "risk on cpu: 100%"), "levelno": logging.INFO,
         "levelname": "INFO", "name": PROGRESS_LOGGER, "event": "phase_start", "run_id": "r1",
         "seconds": 60.0}
    )  # fmt: skip
    document = json.loads(JsonFormatter().format(record))
    assert document["event"] == "phase_start" and document["run_id"] == "r1"
    assert document["level"] == "info" and document["seconds"] == 60.0
    assert document["message"] == "run r1: risk on cpu: 100%"
    text = TextFormatter().format(record)
    assert text.startswith("finwatt: 20") and text.endswith("Z run r1: risk on cpu: 100%")
    record.levelno, record.levelname = logging.WARNING, "WARNING"
    assert TextFormatter().format(record) == "finwatt: warning: run r1: risk on cpu: 100%"
