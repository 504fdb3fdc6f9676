"""Read the trend inputs from the store: `finwatt trend` and `finwatt report --since`.

Observations are the valid 100%-load phases of profiling runs (kind `profile`, or
`scheduled` with a `run` action) started in the window; energy traces are the energy
curves (`cumulative_energy` of each device's `Store.series`) of every run overlapping it
(CPU packages, DRAM, GPUs; not the `host` view). The series, regressions and daily sums
are computed by the pure `profiler.analysis.trend`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from profiler.analysis.trend import (
    EnergyTrace,
    Observation,
    Trend,
    compute_series,
    daily_energy,
)
from profiler.model.provenance import is_estimate
from profiler.model.run import RunRecord
from profiler.model.series import cumulative_energy
from profiler.model.units import epoch_to_iso
from profiler.store.database import Store


def observations(store: Store, run: RunRecord) -> list[Observation]:
    """Return a profiling run's valid 100%-load phases as observations."""
    size = str(run.config.get("size", "standard"))
    found = []
    for phase in store.phases.for_run(run.id):
        upj = phase.metrics.units_per_j
        if phase.target_load != 1.0 or phase.valid is not True or not upj or upj <= 0:
            continue
        found.append(
            Observation(
                run.id,
                run.started_iso,
                run.host,
                phase.workload,
                phase.device_id,
                size,
                phase.unit,
                phase.metrics.provenance,
                float(upj),
            )
        )
    return found


def energy_traces(store: Store, run: RunRecord) -> list[EnergyTrace]:
    """Return the energy curve (`cumulative_energy`) of each device but `host`, epoch time."""
    offset = run.started.timestamp()
    traces = []
    for device in store.devices.for_run(run.id):
        info = device.info
        if info.kind == "host":
            continue
        series = store.samples.series(run.id, info)
        if not series.n:
            continue
        traces.append(
            EnergyTrace(
                run.host,
                info.device_id,
                series.t + offset,
                cumulative_energy(series),
                is_estimate(info.provenance),
            )
        )
    return traces


def runs_in_window(
    store: Store, start_s: float, end_s: float, host: str | None = None
) -> list[RunRecord]:
    """Return the runs (of `host`, else of every host) overlapping [start_s, end_s] (epoch s)."""
    return [
        r
        for r in store.runs.all()
        if (host is None or r.host == host)
        and r.started.timestamp() <= end_s
        and (r.ended is None or r.ended.timestamp() >= start_s)
    ]


def gather_trend(
    store: Store, since_s: float, *, now_s: float | None = None, host: str | None = None
) -> Trend:
    """Read the runs started in the last `since_s` seconds (of `host`, else every host)."""
    end = datetime.now(UTC).timestamp() if now_s is None else now_s
    start = end - since_s
    runs = runs_in_window(store, start, end, host)
    found: list[Observation] = []
    traces: list[EnergyTrace] = []
    for run in runs:
        if run.is_profiling and run.started.timestamp() >= start:
            found.extend(observations(store, run))
        traces.extend(energy_traces(store, run))
    return Trend(
        epoch_to_iso(start),
        epoch_to_iso(end),
        len(runs),
        compute_series(found),
        daily_energy(traces, start, end),
    )
