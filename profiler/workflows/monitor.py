"""Record every device for a window and summarise it: `finwatt monitor` and `measure()`.

`monitor_recording` sets up the stored run (probe, `Recording`); `monitor_outcome` reads
it back as one `DeviceSummary` per device. `monitor` is the whole command-line sequence:
record until the duration ends or a signal asks to stop, then summarise. The Python API
(`profiler.workflows.measure`) records for the length of a `with` block instead and
uses the two halves directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.analysis.reconcile import COMPONENT_KINDS, WALL_KINDS, Reconciliation, reconcile
from profiler.analysis.summary import DeviceSummary, summarise_series
from profiler.capture.attribution import AttributedRecording
from profiler.capture.recording import Recording
from profiler.capture.sampler import Sampler
from profiler.live.sources import UnrecordedSource
from profiler.model.attribution_rows import PartListener
from profiler.model.run import RunKind, RunRecord, RunStatus
from profiler.model.samples import TickSink
from profiler.sensors.kube import PodNamer, from_environment
from profiler.sensors.probe import SensorSet
from profiler.settings.config import Settings
from profiler.workflows.database import recorded_run
from profiler.workflows.probe import probe
from profiler.workflows.signals import StopRequest


def monitor_recording(
    settings: Settings,
    *,
    interval_s: float,
    config: dict[str, Any],
    label: str | None = None,
    kind: RunKind = RunKind.MONITOR,
    sensors: SensorSet | None = None,
    sinks: Sequence[TickSink] = (),
    attribute_top_n: int | None = None,
    attribution_listeners: Sequence[PartListener] = (),
) -> Recording:
    """Create a run recording every device (not started yet).

    Args:
        settings: where the database is and how to probe.
        interval_s: sampling interval in seconds (0.05 to 60).
        config: the run's configuration, stored as JSON.
        label: stored with the run.
        kind: the run's kind (`monitor`; the scheduler's are `scheduled`).
        sensors: already probed sensors (the exporter needs them first); probed here
            when None. The recording closes them when it stops.
        sinks: extra consumers of every tick (the Prometheus exporter, the live view).
        attribute_top_n: also store per-minute attribution rows keeping this many
            processes and cgroups (`--attribute --top N`); None: no attribution.
        attribution_listeners: receive each tick's attributed shares (the exporter).
    """
    probed = sensors if sensors is not None else probe(settings)
    run: dict[str, Any] = {
        "kind": kind,
        "interval_s": interval_s,
        "label": label,
        "config": config,
        "sinks": sinks,
    }
    if attribute_top_n is not None:
        return AttributedRecording(
            settings.db_path,
            probed,
            top_n=attribute_top_n,
            listeners=attribution_listeners,
            namer=pod_namer(),
            **run,
        )
    return Recording(settings.db_path, probed, **run)


def pod_namer() -> PodNamer | None:
    """Return the pod namer `FINWATT_KUBELET_URL` asks for, its first fetch done (None: unset).

    The first fetch runs here, before sampling starts, so the first minute's pods are
    named; a failure leaves the namer degraded (logged), never stops the run.
    """
    namer = from_environment(os.environ)
    if namer is not None:
        namer.pods.refresh()
    return namer


def unrecorded_source(
    sensors: SensorSet, interval_s: float, sinks: Sequence[TickSink]
) -> UnrecordedSource:
    """Return a live view's source that samples every device and stores nothing.

    Args:
        sensors: the probed sensors; the caller closes them.
        interval_s: sampling interval in seconds (0.05 to 60).
        sinks: consumers of every tick (the live view's state).
    """
    return UnrecordedSource(Sampler(sensors.families, sensors.family_devices, interval_s, sinks))


@dataclass(frozen=True)
class MonitorOutcome:
    """A recorded window as stored: the run and one summary per device.

    Attributes:
        run: the run record.
        devices: per-device utilisation, energy and power, with provenance.
        reconciliation: wall power vs its parts, where a `node` device gave wall power.
    """

    run: RunRecord
    devices: list[DeviceSummary]
    reconciliation: Reconciliation | None = None

    @property
    def seconds(self) -> float:
        """The longest device span of the window, in seconds (0 with no samples)."""
        return max((s.seconds or 0.0 for s in self.devices), default=0.0)


RECONCILE_INTERVAL_S = 10.0
"""Interval of the monitor summary's wall-power reconciliation, in seconds."""


def monitor_outcome(db_path: Path, run_id: str) -> MonitorOutcome:
    """Read a stored window back and summarise each device.

    Raises:
        StoreError: the run is not in the database (removed while it recorded).
    """
    with recorded_run(db_path, run_id) as (store, run):
        devices = store.devices.for_run(run_id)
        # each with the run's hold, as its rollups and `analyze` use
        series = [store.samples.series(run_id, d.info) for d in devices]
    summaries = [summarise_series(d, s) for d, s in zip(devices, series, strict=True)]
    balanced = [s for s in series if s.spec.kind in WALL_KINDS + COMPONENT_KINDS]
    balance = reconcile(balanced, RECONCILE_INTERVAL_S)
    return MonitorOutcome(run, summaries, balance)


def monitor(
    recording: Recording,
    stop: StopRequest,
    duration_s: float | None,
    on_start: Callable[[str], None] | None = None,
) -> MonitorOutcome:
    """Record until `duration_s` passes (None: until stopped), then summarise.

    Args:
        recording: from `monitor_recording`; started and stopped here.
        stop: a signal's stop request; the run then ends `interrupted`. A failed write
            of samples sets its event too: the run then ends `failed` and
            `RecordingFailedError` (exit 1) is raised.
        duration_s: how long to record, or None for as long as it takes.
        on_start: told the run id just before sampling starts.
    """
    if on_start is not None:
        on_start(recording.run_id)
    recording.when_failed(stop.event.set)  # the first failed write ends the window
    recording.start()
    try:
        stop.event.wait(duration_s)
    finally:
        recording.stop(RunStatus.INTERRUPTED if stop.signalled else RunStatus.COMPLETE)
    return monitor_outcome(recording.db_path, recording.run_id)
