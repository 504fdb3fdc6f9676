"""A scheduled monitor on a disk that fills: reported `failed`, the daemon goes on.

Before: only the deadline path (`ScheduledActions.poll`) caught the `RecordingFailedError`
a full disk raises when a monitor stops; pausing the monitors for a profiling run,
stopping them at shutdown and ending one because its entry fired again let it escape and
stop the daemon. Now every way a background monitor ends reports a failed recording as
the run `failed` with the reason, and the actions go on with the other entries.

Real parts: a real small tmpfs filled to the last byte, the real recorder and SQLite; the
scheduler's clock is the system clock (the monitors sample in real time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from profiler.schedule.timing import FireResult, SystemClock
from profiler.settings.config import load_settings
from profiler.settings.schedule_entries import ScheduleEntry
from profiler.store.database import Store
from profiler.workflows.scheduler import ScheduledActions
from tests.robustness._outputs_support import filled, tmpfs

FAIL_WITHIN_S = 30.0


@dataclass
class Daemon:
    """The scheduler's actions on a database on a small tmpfs."""

    actions: ScheduledActions
    mount: Path

    @property
    def db(self) -> Path:
        return self.actions.settings.db_path


def entry(name: str) -> ScheduleEntry:
    """A monitor entry that would record for an hour, sampling every 0.05 s."""
    return ScheduleEntry(
        name, "monitor", every_s=3600, every="1h", duration_s=3600, interval_s=0.05
    )


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    monkeypatch.delenv("FINWATT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with tmpfs(tmp_path / "mnt", 2048) as mount:
        settings = load_settings(mount / "f.db")
        actions = ScheduledActions(settings, SystemClock(), threading.Event())
        try:
            yield Daemon(actions, mount)
        finally:
            actions.stop_all()


def fire_and_fill(daemon: Daemon, name: str) -> str:
    """Fire a monitor entry, fill the disk, and wait until its writer has failed."""
    fired = daemon.actions.fire(entry(name), datetime.now(UTC))
    assert fired.status == "running" and fired.run_id is not None, fired
    filled(daemon.mount, 0)
    writer = daemon.actions._monitors[name].recording.writer
    assert writer.failed.wait(FAIL_WITHIN_S), "the full disk never failed a write"
    return fired.run_id


def assert_stored_failed(daemon: Daemon, run_id: str, results: list[FireResult]) -> None:
    """`results` holds the run as `failed` with the full disk named; so does the database."""
    mine = [r for r in results if r.run_id == run_id]
    assert [r.status for r in mine] == ["failed"], results
    assert mine[0].message is not None and "disk is full" in mine[0].message
    (daemon.mount / "filler").unlink()  # room again: a note left behind is applied now
    with Store(daemon.db) as store:
        store.runs.mark_stale()
        run = store.runs.get(run_id)
        reason = store.runs.status_reason(run_id)
    assert run is not None and run.status == "failed"
    assert reason is not None and "disk is full" in reason


def another_entry_still_runs(daemon: Daemon) -> None:
    """With room again, the same actions start and stop another entry's monitor."""
    fired = daemon.actions.fire(entry("other"), datetime.now(UTC))
    assert fired.status == "running", fired
    time.sleep(0.3)
    [stopped] = daemon.actions.stop_all()
    assert (stopped.name, stopped.status) == ("other", "interrupted"), stopped


def test_pausing_for_a_profiling_run_reports_the_failed_monitor(daemon: Daemon) -> None:
    run_id = fire_and_fill(daemon, "usage")
    paused = daemon.actions.pause_monitors("bench")
    assert paused == []  # a failed recording is not resumed after the profiling run
    assert_stored_failed(daemon, run_id, daemon.actions.poll(datetime.now(UTC)))
    another_entry_still_runs(daemon)


def test_stopping_the_scheduler_reports_the_failed_monitor(daemon: Daemon) -> None:
    run_id = fire_and_fill(daemon, "usage")
    assert_stored_failed(daemon, run_id, daemon.actions.stop_all())
    another_entry_still_runs(daemon)


def test_the_entry_firing_again_reports_the_failed_monitor(daemon: Daemon) -> None:
    run_id = fire_and_fill(daemon, "usage")
    again = daemon.actions.fire(entry("usage"), datetime.now(UTC))  # the disk is still full
    assert again.status in ("running", "failed"), again
    results = daemon.actions.poll(datetime.now(UTC))
    assert_stored_failed(daemon, run_id, results)
    daemon.actions.stop_all()
    another_entry_still_runs(daemon)
