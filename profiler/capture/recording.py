"""A stored run being recorded: sensors → sampler → batched SQLite writer.

`Recording` is what `finwatt monitor`, `profiler.measure()` and profiling runs share: it
creates the run and its device records, samples in the background, writes samples at
most a second behind, tracks device health, and closes the run with its final status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from profiler.capture.sampler import Sampler, TickSink
from profiler.model.device import DeviceStatus
from profiler.model.samples import SampleRow, Tick
from profiler.sensors.probe import SensorSet
from profiler.store import SampleWriter, Store


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
        kind: str,
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
            store.mark_stale_runs()
            self.run = store.create_run(
                kind, label=label, config=config or {}, interval_s=interval_s
            )
            store.add_devices(self.run.id, sensors.devices)
        self.writer = SampleWriter(db_path, self.run.id)
        self.sampler = sampler_factory(
            sensors.families,
            sensors.family_devices,
            interval_s,
            [self._record, *sinks],
        )
        self.status = "running"

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

    def start(self) -> Recording:
        """Start sampling; returns self."""
        self.sampler.start()
        return self

    def stop(self, status: str = "complete") -> None:
        """Stop sampling, flush every sample, and close the run with `status`.

        Idempotent: a second call does nothing.
        """
        if self.status != "running":
            return
        self.status = status
        try:
            self.sampler.stop()
        finally:
            try:
                self.writer.close()
            finally:
                self.sensors.close()
                with Store(self.db_path) as store:
                    store.finish_run(self.run.id, status, missed_ticks=self.sampler.missed_ticks)

    def __enter__(self) -> Recording:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.stop("complete")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.stop("interrupted")
        else:
            self.stop("failed")


def _reason(status: DeviceStatus) -> str:
    if status is DeviceStatus.LOST:
        return "device lost mid-run (fell off the bus or stopped answering); later samples null"
    return "sensor read failed; affected samples are null (see the log)"
