"""Why a run ended `failed` or `interrupted`: on its record, in `runs` and `runs --json`.

The reason is stored (`run.status_reason`: a full disk, its process gone); it is
read into `RunRecord.status_reason`, `finwatt runs --json` gives it for every run, and the
`runs` table shows it for failed and interrupted runs, escaped like every other text that
may come from outside (an imported document), and never read as rich markup.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from profiler.store.database import Store
from profiler.store.failure_notes import leave_note
from tests.robustness._outputs_support import run_finwatt

HOSTILE = "disk [bold]full[/] \x1b]0;ALL RUNS OK\x07\x1b[2J"
"""A reason as an imported document could carry it: markup, a retitle, a screen clear."""
HOSTILE_SHOWN = "disk [bold]full[/] \\x1b]0;ALL RUNS OK\\x07\\x1b[2J"


def _database(path: Path) -> dict[str, str]:
    """Store a failed, an interrupted and a complete run; return their ids by status."""
    ids = {}
    with Store(path) as store:
        for status, reason in (
            ("failed", HOSTILE),
            ("interrupted", "its process ended without closing the run"),
            ("complete", "not shown: the run is complete"),
        ):
            run = store.runs.create("monitor", label=status, pid=0)
            store.runs.finish(run.id, status, reason=reason)
            ids[status] = run.id
    return ids


def test_the_record_carries_the_reason(tmp_path: Path) -> None:
    ids = _database(tmp_path / "f.db")
    with Store(tmp_path / "f.db", read_only=True) as store:
        failed = store.runs.get(ids["failed"])
        listed = {r.id: r.status_reason for r in store.runs.all()}
    assert failed is not None and failed.status_reason == HOSTILE
    assert listed[ids["interrupted"]] == "its process ended without closing the run"


def test_runs_json_gives_every_runs_reason(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    ids = _database(db)
    with Store(db) as store:
        plain = store.runs.create("monitor", label="plain", pid=0)
        store.runs.finish(plain.id, "complete")
    result = run_finwatt("runs", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    reasons = {r["id"]: r["status_reason"] for r in json.loads(result.stdout)["runs"]}
    assert reasons[ids["failed"]] == HOSTILE
    assert reasons[ids["interrupted"]] == "its process ended without closing the run"
    assert reasons[plain.id] is None


def test_the_runs_table_shows_the_reason_of_failed_and_interrupted_runs_escaped(
    tmp_path: Path,
) -> None:
    db = tmp_path / "f.db"
    _database(db)
    result = run_finwatt("runs", "--db", str(db), env={"COLUMNS": "300"})
    assert result.returncode == 0, result.stderr
    assert "why it ended so" in result.stdout
    assert HOSTILE_SHOWN in result.stdout  # escaped, and the brackets shown as written
    assert "its process ended without closing the run" in result.stdout
    assert "not shown" not in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout


def test_the_table_has_no_reason_column_when_no_run_failed(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        run = store.runs.create("monitor", label="fine", pid=0)
        store.runs.finish(run.id, "complete")
    result = run_finwatt("runs", "--db", str(db), env={"COLUMNS": "300"})
    assert result.returncode == 0, result.stderr
    assert run.id in result.stdout and "why it ended so" not in result.stdout


def test_a_failure_note_marks_its_run_failed_while_its_process_lives_on(tmp_path: Path) -> None:
    # the scheduler daemon's monitor on a full disk: the daemon (the run's pid) goes on
    db = tmp_path / "f.db"
    with Store(db) as store:
        run = store.runs.create("scheduled", label="usage", pid=os.getpid())
    assert leave_note(db, run.id, "writing samples: the disk is full", run.started_iso)
    with Store(db) as store:
        assert store.runs.mark_stale() == [run.id]
        marked = store.runs.get(run.id)
    assert marked is not None and marked.status == "failed"
    assert marked.status_reason == "writing samples: the disk is full"
