"""A stored run being recorded: sensors → sampler → batched SQLite writer.

`Recording` is what `finwatt monitor`, `profiler.measure()` and profiling runs share: it
creates the run and its device records, samples in the background, writes samples at
most a second behind, tracks device health, and closes the run with its final status.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from profiler.capture.sampler import Sampler
from profiler.model.device import DeviceStatus
from profiler.model.errors import FinwattRuntimeError
from profiler.model.run import RunKind, RunStatus
from profiler.model.samples import SampleRow, Tick, TickSink
from profiler.model.units import epoch_s, epoch_to_iso
from profiler.sensors.probe import SensorSet
from profiler.store import SampleWriter, Store, StoreError
from profiler.store.failure_notes import leave_note
from profiler.store.opening import describe
from profiler.store.stamps import utc_now_iso

CLOCK_STEP_NOTE_S = 1.0
"""A wall clock this far from `started` + monotonic elapsed at the end is noted as a step."""


class RecordingFailedError(FinwattRuntimeError):
    """Storing the recording's samples failed (e.g. a full disk); the run ends `failed`."""


class Recording:
    """Record one run into the database at `db_path`.

    Args:
        db_path: SQLite file.
        sensors: the probed sensors (the recording closes them at the end).
        kind: run kind (`monitor`, `profile`, `scheduled`).
        interval_s: sampling interval in seconds.
        label: free-text label.
        config: the run's configuration, stored as JSON.
        sinks: extra consumers of each tick (live view, exporter).
        sampler_factory: builds the sampler (tests pass one with a fake clock).

    """

    def __init__(
        self,
        db_path: Path,
        sensors: SensorSet,
        *,
        kind: RunKind,
        interval_s: float,
        label: str | None = None,
        config: dict[str, Any] | None = None,
        sinks: Sequence[TickSink] = (),
        sampler_factory: Callable[..., Sampler] = Sampler,
    ) -> None:
        self.db_path = db_path
        self.sensors = sensors
        self._status: dict[str, DeviceStatus] = {
            d.device_id: DeviceStatus.OK for d in sensors.devices
        }
        with Store(db_path) as store:
            store.runs.mark_stale()
            self.run = store.runs.create(
                kind, label=label, config=config or {}, interval_s=interval_s
            )
            self._started_monotonic = time.monotonic()  # ended = started + elapsed on it
            try:
                store.devices.add(self.run.id, sensors.devices)
                if sensors.inventory:
                    store.inventory.add(self.run.id, sensors.inventory)
            except (sqlite3.Error, StoreError) as err:
                sensors.close()
                self._abandon(store, err)
        self._on_failure: list[Callable[[], None]] = []
        self.writer = SampleWriter(db_path, self.run.id, on_failure=self._writer_failed)
        self.sampler = sampler_factory(
            sensors.families,
            sensors.family_devices,
            interval_s,
            [self._record, *sinks],
        )
        self.status = RunStatus.RUNNING

    def _abandon(self, store: Store, err: sqlite3.Error | StoreError) -> NoReturn:
        """The run was created but its devices could not be stored: close it `failed`."""
        reason = (
            f"storing the devices: {describe(err, self.db_path)}"
            if isinstance(err, sqlite3.Error)
            else str(err)
        )
        try:
            store.runs.finish(
                self.run.id, RunStatus.FAILED, ended=self.run.started_iso, reason=reason
            )
        except (sqlite3.Error, StoreError):
            leave_note(self.db_path, self.run.id, reason, self.run.started_iso)
        raise RecordingFailedError(f"run {self.run.id} could not start: {reason}") from err

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.run.id

    def _record(self, tick: Tick) -> None:
        self.writer.put(SampleRow.from_reading(tick.t, r) for r in tick.readings.values())
        for device_id, reading in tick.readings.items():
            if reading.status is not self._status.get(device_id, DeviceStatus.OK):
                self._status[device_id] = reading.status
                reason = None if reading.status is DeviceStatus.OK else _reason(reading.status)
                self.writer.put_status(device_id, reading.status.value, reason)

    def when_failed(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from the writer's thread) if storing samples fails.

        `monitor` passes its stop event's `set`, so the first failed write ends the wait.
        """
        self._on_failure.append(callback)
        if self.writer.failed.is_set():
            callback()

    def _writer_failed(self) -> None:
        for callback in self._on_failure:
            callback()

    def raise_if_failed(self) -> None:
        """Stop the recording and raise if storing samples has failed.

        Raises:
            RecordingFailedError: the writer stopped (the run is then stored `failed`).
        """
        if self.writer.failed.is_set():
            self.stop(RunStatus.FAILED)

    def start(self) -> Recording:
        """Start sampling; returns self."""
        self.sampler.start()
        return self

    def stop(self, status: RunStatus = RunStatus.COMPLETE, *, reason: str | None = None) -> None:
        """Stop sampling, flush every sample, and close the run with `status` (and `reason`).

        When storing samples failed (a full disk), the run is closed `failed` instead, with
        the reason and the time of its last stored sample, and `RecordingFailedError` is
        raised. Idempotent: a second call does nothing.

        Raises:
            RecordingFailedError: storing samples failed.
        """
        if self.status != RunStatus.RUNNING:
            return
        self.status = status
        try:
            self.sampler.stop()
        finally:
            try:
                self.writer.close()
            except StoreError:
                pass  # the writer's error is handled below, with the run's status
            finally:
                self.sensors.close()
                self._close_run(status, reason)

    def end_stamp(self) -> tuple[str, str | None]:
        """Return the run's end (`started` + monotonic elapsed) and a note on a clock step.

        One clock for the run's times (docs/design.md#run-times): a wall clock stepped back
        during the run (NTP, an operator) cannot put `ended` before `started`; a step of
        over `CLOCK_STEP_NOTE_S` is noted with its size.
        """
        elapsed = time.monotonic() - self._started_monotonic
        ended_s = self.run.started.timestamp() + elapsed
        step_s = epoch_s(utc_now_iso()) - ended_s
        note = None
        if abs(step_s) > CLOCK_STEP_NOTE_S:
            way = "back" if step_s < 0 else "forward"
            note = (
                f"the wall clock stepped {way} {abs(step_s):.1f} s during the run; "
                "ended = started + monotonic elapsed"
            )
        return epoch_to_iso(ended_s, "milliseconds"), note

    def _close_run(self, status: RunStatus, reason: str | None = None) -> None:
        """Store the run's final status; when samples could not be stored, `failed` and why."""
        if self.writer.error is None:
            ended, clock_note = self.end_stamp()
            said = "; ".join(r for r in (reason, clock_note) if r) or None
            with Store(self.db_path) as store:
                store.runs.finish(
                    self.run.id,
                    status,
                    ended=ended,
                    missed_ticks=self.sampler.missed_ticks,
                    reason=said,
                )
            return
        self.status = RunStatus.FAILED
        reason = self.writer.describe_error()
        last_t = self.writer.last_stored_t
        ended = epoch_to_iso(self.run.started.timestamp() + (last_t or 0.0), "milliseconds")
        stored = f"samples up to t={last_t:.1f} s kept" if last_t is not None else "no samples"
        try:
            with Store(self.db_path) as store:
                store.runs.finish(
                    self.run.id,
                    RunStatus.FAILED,
                    ended=ended,
                    missed_ticks=self.sampler.missed_ticks,
                    reason=reason,
                )
        except (StoreError, sqlite3.Error) as err:
            noted = leave_note(self.db_path, self.run.id, reason, ended)
            raise RecordingFailedError(
                f"run {self.run.id} stopped: {reason}; {stored}; marking it failed also "
                f"failed ({err}); "
                + (
                    "the next finwatt command on this database marks it failed"
                    if noted
                    else "the next finwatt command on this database marks it interrupted"
                )
            ) from self.writer.error
        raise RecordingFailedError(
            f"run {self.run.id} stopped and is stored failed: {reason}; {stored}"
        ) from self.writer.error

    def __enter__(self) -> Recording:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.stop(RunStatus.COMPLETE)
        elif issubclass(exc_type, KeyboardInterrupt):
            self.stop(RunStatus.INTERRUPTED)
        else:
            self.stop(RunStatus.FAILED)


def _reason(status: DeviceStatus) -> str:
    if status is DeviceStatus.LOST:
        return "device lost mid-run (fell off the bus or stopped answering); later samples null"
    return "sensor read failed; affected samples are null (see the log)"
