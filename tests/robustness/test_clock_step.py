"""A wall-clock step back during a run: `ended` is `started` + monotonic elapsed, noted.

With libfaketime on the finwatt process a step back stored `ended` before `started`, and
`import` then refused the run's own export. libfaketime is not installed here, so the
wall clock is faked at the lowest seam finwatt has: `datetime` in
`profiler.store.stamps`, which stamps every run's start and end (docs/design.md#run-times).
The monotonic clock, the sampler and the database are the real ones.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import pytest

from profiler.model.run import RunStatus
from profiler.sensors.probe import probe_sensors
from profiler.settings.config import load_settings
from profiler.store import stamps
from profiler.store.database import Store
from profiler.store.interchange import import_run, parse_document, write_json
from profiler.workflows.monitor import monitor_recording


class SteppedClock(datetime):
    """`datetime` whose `now` is the real wall time plus a step the test sets."""

    step = timedelta(0)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> SteppedClock:
        """Return the stepped wall time."""
        real = datetime.now(tz or UTC) + cls.step
        return cls.fromtimestamp(real.timestamp(), tz or UTC)


@pytest.mark.parametrize(("step_s", "way"), [(-3600.0, "back"), (7200.0, "forward")])
def test_a_clock_step_leaves_ended_at_started_plus_elapsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step_s: float, way: str
) -> None:
    monkeypatch.setattr(SteppedClock, "step", timedelta(0))
    monkeypatch.setattr(stamps, "datetime", SteppedClock)
    recording = monitor_recording(
        load_settings(tmp_path / "f.db"),
        interval_s=0.1,
        config={},
        sensors=probe_sensors(sysfs_root=tmp_path),
    )
    begun = time.monotonic()
    recording.start()
    time.sleep(0.5)
    monkeypatch.setattr(SteppedClock, "step", timedelta(seconds=step_s))  # NTP, an operator
    time.sleep(0.3)
    recording.stop(RunStatus.COMPLETE)
    elapsed = time.monotonic() - begun
    with Store(tmp_path / "f.db") as store:
        run = store.runs.get(recording.run_id)
    assert run is not None and run.ended is not None
    seconds = (run.ended - run.started).total_seconds()
    assert 0.7 <= seconds <= elapsed + 0.1  # the monotonic elapsed, not the step
    assert run.status == "complete"
    assert run.status_reason is not None
    assert f"stepped {way} {abs(step_s):.0f}" in run.status_reason


def test_a_run_across_a_step_back_imports_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SteppedClock, "step", timedelta(0))
    monkeypatch.setattr(stamps, "datetime", SteppedClock)
    recording = monitor_recording(
        load_settings(tmp_path / "f.db"),
        interval_s=0.1,
        config={},
        sensors=probe_sensors(sysfs_root=tmp_path),
    )
    recording.start()
    time.sleep(0.3)
    monkeypatch.setattr(SteppedClock, "step", timedelta(hours=-1))
    recording.stop(RunStatus.COMPLETE)
    exported = io.StringIO()
    with Store(tmp_path / "f.db") as store:
        write_json(store, recording.run_id, exported)
    with Store(tmp_path / "other.db") as other:
        imported = import_run(other, parse_document(exported.getvalue()), source="test")
        assert other.runs.get(imported) is not None
