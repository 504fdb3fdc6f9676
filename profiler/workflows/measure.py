"""Measure the energy of any block of Python code: `with profiler.measure("label") as m:`.

Like codecarbon's tracker or Zeus's measurement windows, but every figure keeps its
provenance: after the block, `m.energy_j` is the block's own energy, `m.host_energy_j`
the whole host's, `m.devices` lists energy (J) and mean power (W) per device, each
saying whether it was measured (RAPL, NVML) or estimated (a named power model), and the
window is stored as a `monitor` run (`m.run_id`) like any other.

The calling process tree's share of that energy is attributed as `finwatt exec` does
(docs/attribution.md#python-api): `m.job` holds its dynamic energy (shared by CPU time),
idle share, CPU seconds and J per unit, with `attributed:cpu-time(...)` provenance, and
is stored as the run's `job` row with `units`, `unit` and `tags`, so `finwatt chargeback`
counts it; `m.energy_j` is that row's energy (dynamic plus allocated idle).
The tree is this process (finwatt's sampler thread included) and its children, counted
from the block's start.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from profiler.analysis.attribution import DEFAULT_IDLE_POLICY, IdlePolicy
from profiler.analysis.summary import DeviceSummary
from profiler.model.errors import FinwattInputError
from profiler.model.job import JobRecord, tag_problem
from profiler.settings.config import load_settings
from profiler.store.database import Store
from profiler.workflows.job import JobSpec, TreeTracker, job_record, nvml_reader
from profiler.workflows.monitor import monitor_outcome, monitor_recording
from profiler.workflows.probe import probe

MEASURE_ACCOUNTING = "process-tree:caller"
"""`measure()` follows the calling process and its children from the block's start."""


@dataclass
class Measurement:
    """The result of a `measure()` window; `devices` is filled when the block ends."""

    label: str | None
    run_id: str
    devices: list[DeviceSummary] = field(default_factory=list)
    job: JobRecord | None = None
    units: float | None = None

    @property
    def energy_j(self) -> float | None:
        """The block's own energy in joules, as `finwatt exec` defines a job's energy.

        Its dynamic share (by CPU time) plus the idle energy its `idle_share` policy
        allocated (`m.job.energy_j`); None when no device has a power figure. The
        whole host's energy over the window is `host_energy_j`.
        """
        return None if self.job is None else self.job.energy_j

    @property
    def host_energy_j(self) -> float | None:
        """Energy of every device with a power figure, in joules (None if none has one).

        The whole host over the block's window, other processes included. Devices are
        package- and GPU-level (`cpu:N`, `dram:N`, `gpu:N`); `host` has no power of its
        own, so nothing is counted twice.
        """
        figures = [d.energy_j for d in self.devices if d.energy_j is not None]
        return sum(figures) if figures else None

    def device(self, device_id: str) -> DeviceSummary:
        """Return one device's summary, e.g. `m.device("cpu:0").energy_j`."""
        for summary in self.devices:
            if summary.device == device_id:
                return summary
        raise KeyError(f"no device {device_id!r} in this measurement")


@contextmanager
def measure(
    label: str | None = None,
    *,
    db: Path | None = None,
    interval_s: float = 0.1,
    units: float | None = None,
    unit: str | None = None,
    tags: Mapping[str, str] | None = None,
    idle_share: IdlePolicy = DEFAULT_IDLE_POLICY,
) -> Iterator[Measurement]:
    """Sample every sensor while the block runs and store the window as a run.

    Args:
        label: stored with the run.
        db: database path (default: the configured one).
        interval_s: sampling interval in seconds (0.05 to 60).
        units: units of work the block does (for J per unit); may be set on
            `m.units` inside the block instead.
        unit: the unit's name.
        tags: KEY=VALUE pairs stored with the job row (chargeback groups by them).
        idle_share: idle policy for the attributed figures (`none`, `cpu-time`, `cores`).

    Yields:
        A `Measurement` whose `devices` and `job` are filled in when the block exits.

    """
    for key, value in (tags or {}).items():
        problem = tag_problem(key, value)
        if problem is not None:
            raise FinwattInputError(f"measure(tags=...): {key!r}={value!r}: {problem}")
    settings = load_settings(db)
    sensors = probe(settings)
    tracker = TreeTracker(nvml_reader(sensors))
    recording = monitor_recording(
        settings,
        interval_s=interval_s,
        label=label,
        config={"source": "profiler.measure", "accounting": MEASURE_ACCOUNTING},
        sensors=sensors,
        sinks=[tracker.on_tick],
    )
    measurement = Measurement(label, recording.run_id, units=units)
    tracker.follow(os.getpid(), from_now=True)
    started = time.monotonic()
    with recording:
        yield measurement
    spec = JobSpec(
        command=[label or "profiler.measure"],
        label=label,
        units=measurement.units,
        unit=unit,
        tags=dict(tags or {}),
        interval_s=interval_s,
        idle_share=idle_share,
    )
    job = job_record(
        recording.run_id,
        recording.sensors.devices,
        tracker,
        spec,
        exit_status=None,
        seconds=time.monotonic() - started,
        accounting=MEASURE_ACCOUNTING,
    )
    with Store(settings.db_path) as store:
        store.jobs.add(job)
    measurement.job = job
    measurement.devices = monitor_outcome(settings.db_path, recording.run_id).devices
