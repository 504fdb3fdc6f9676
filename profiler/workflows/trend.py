"""Efficiency and energy over time: units/J per workload and device, and daily energy.

For `finwatt trend` and the trend section of `finwatt report --since`. A point is the
units/J of one profiling run (kind `profile`, or `scheduled` with a `run` action) at
100% target load, from phases the runner marked valid. A series is one host, workload,
device and workload size (sizes do different work per unit). A point is a regression
when its units/J is more than `REGRESSION_DROP` below the median of the earlier points
of its series measured the same way (same provenance: an estimate is never compared
with a measurement).

Daily energy sums, per UTC day, the energy counters of every run in the window (CPU
packages, DRAM, GPUs; not the `host` view), splitting a run across midnight by its
samples. Where runs overlap on the same host and device (a manual run during a
monitor), the later-starting run's overlapping samples are left out, so no joule is
counted twice.

`compute_series` and `daily_energy` are pure; `gather_trend` reads the store.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from profiler.model.provenance import is_estimate
from profiler.model.run import RunRecord
from profiler.model.units import DAY_S
from profiler.model.units import epoch_s as _epoch
from profiler.model.units import epoch_to_iso as _iso
from profiler.store.database import Store
from profiler.workflows.analyze import is_profiling_run

REGRESSION_DROP = 0.10
"""Units/J more than 10% below the median of earlier runs is a regression (issue 8)."""


@dataclass(frozen=True)
class Observation:
    """One run's units/J for one workload and device at 100% load (a valid phase)."""

    run_id: str
    started: str
    host: str
    workload: str
    device: str
    size: str
    unit: str | None
    provenance: str | None
    units_per_j: float


@dataclass(frozen=True)
class TrendPoint:
    """An observation and how it compares with the earlier points of its series.

    Attributes:
        baseline_units_per_j: median units/J of the earlier points with the same
            provenance, or None for the first one.
        change: units_per_j / baseline - 1 (e.g. -0.15 is 15% worse), or None.
        regression: change below -REGRESSION_DROP.
    """

    run_id: str
    started: str
    units_per_j: float
    provenance: str | None
    baseline_units_per_j: float | None
    baseline_runs: int
    change: float | None
    regression: bool


@dataclass(frozen=True)
class TrendSeries:
    """Units/J of one host, workload, device and size over time, oldest first."""

    host: str
    workload: str
    device: str
    size: str
    unit: str | None
    points: list[TrendPoint]

    @property
    def latest(self) -> TrendPoint:
        """The newest point."""
        return self.points[-1]


@dataclass(frozen=True)
class DayEnergy:
    """Energy of one UTC day, in joules, in total and per host device."""

    day: str
    energy_j: float
    devices: dict[str, float]
    estimated: bool


@dataclass
class Trend:
    """Everything `finwatt trend` shows, as plain data."""

    window_start: str
    window_end: str
    runs: int
    series: list[TrendSeries] = field(default_factory=list)
    daily_energy: list[DayEnergy] = field(default_factory=list)

    @property
    def regressions(self) -> list[tuple[TrendSeries, TrendPoint]]:
        """Every flagged point, with its series."""
        return [(s, p) for s in self.series for p in s.points if p.regression]

    def as_dict(self) -> dict[str, Any]:
        """Return the trend as one JSON-ready document."""
        return {
            "window": {"start": self.window_start, "end": self.window_end, "runs": self.runs},
            "regression_drop": REGRESSION_DROP,
            "series": [asdict(s) for s in self.series],
            "daily_energy": [asdict(d) for d in self.daily_energy],
            "regressions": [
                {
                    "host": s.host,
                    "workload": s.workload,
                    "device": s.device,
                    "size": s.size,
                    "run": p.run_id,
                    "started": p.started,
                    "units_per_j": p.units_per_j,
                    "baseline_units_per_j": p.baseline_units_per_j,
                    "change": p.change,
                }
                for s, p in self.regressions
            ],
        }


def compute_series(observations: Iterable[Observation]) -> list[TrendSeries]:
    """Group observations into series and flag regressions (pure)."""
    groups: dict[tuple[str, str, str, str], list[Observation]] = defaultdict(list)
    for o in observations:
        groups[(o.host, o.workload, o.device, o.size)].append(o)
    series = []
    for (host, workload, device, size), group in sorted(groups.items()):
        group.sort(key=lambda o: (o.started, o.run_id))
        points = []
        for i, o in enumerate(group):
            earlier = [p.units_per_j for p in group[:i] if p.provenance == o.provenance]
            baseline = statistics.median(earlier) if earlier else None
            change = o.units_per_j / baseline - 1 if baseline else None
            points.append(
                TrendPoint(
                    o.run_id,
                    o.started,
                    o.units_per_j,
                    o.provenance,
                    baseline,
                    len(earlier),
                    change,
                    change is not None and change < -REGRESSION_DROP,
                )
            )
        series.append(TrendSeries(host, workload, device, size, group[-1].unit, points))
    return series


@dataclass(frozen=True)
class EnergyTrace:
    """One device's cumulative energy counter in one run, on absolute time (epoch s)."""

    host: str
    device: str
    t_epoch: npt.NDArray[np.float64]
    energy_j: npt.NDArray[np.float64]
    estimated: bool


def daily_energy(
    traces: Sequence[EnergyTrace], start_epoch: float, end_epoch: float
) -> list[DayEnergy]:
    """Sum energy per UTC day over the window (pure); overlapping traces count once.

    Each interval between two known counter readings is attributed to the day its start
    falls in (days are half-open, [00:00, 24:00)); intervals starting outside the window,
    or before the end of an earlier trace of the same host and device, are left out.
    """
    covered: dict[tuple[str, str], float] = {}
    per_day: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    estimated_days: set[str] = set()
    for trace in sorted(traces, key=lambda tr: float(tr.t_epoch[0]) if tr.t_epoch.size else 0):
        known = ~np.isnan(trace.energy_j)
        t = trace.t_epoch[known]
        energy = trace.energy_j[known]
        if t.size < 2:
            continue
        key = (trace.host, trace.device)
        delta = np.clip(np.diff(energy), 0.0, None)
        begins = t[:-1]
        keep = (
            (begins >= covered.get(key, -np.inf)) & (begins >= start_epoch) & (begins < end_epoch)
        )
        days = np.floor(begins[keep] / DAY_S)
        for day_index, joules in zip(days, delta[keep], strict=True):
            day = datetime.fromtimestamp(day_index * DAY_S, UTC).strftime("%Y-%m-%d")
            per_day[day][f"{trace.host}/{trace.device}"] += float(joules)
            if trace.estimated:
                estimated_days.add(day)
        covered[key] = max(covered.get(key, -np.inf), float(t[-1]))
    return [
        DayEnergy(day, sum(devices.values()), dict(sorted(devices.items())), day in estimated_days)
        for day, devices in sorted(per_day.items())
    ]


def observations(store: Store, run: RunRecord) -> list[Observation]:
    """Return a profiling run's valid 100%-load phases as observations."""
    size = str(run.config.get("size", "standard"))
    found = []
    for phase in store.phases(run.id):
        upj = phase.details.get("units_per_j")
        if phase.target_load != 1.0 or phase.valid is not True or not upj or upj <= 0:
            continue
        found.append(
            Observation(
                run.id,
                run.started,
                run.host,
                phase.workload,
                phase.device_id,
                size,
                phase.unit,
                phase.details.get("provenance"),
                float(upj),
            )
        )
    return found


def gather_trend(
    store: Store, since_s: float, *, now_s: float | None = None, host: str | None = None
) -> Trend:
    """Read the runs started in the last `since_s` seconds (of `host`, else every host)."""
    end = datetime.now(UTC).timestamp() if now_s is None else now_s
    start = end - since_s
    runs = [
        r
        for r in store.list_runs()
        if (host is None or r.host == host)
        and _epoch(r.started) <= end
        and (r.ended is None or _epoch(r.ended) >= start)
    ]
    found: list[Observation] = []
    traces: list[EnergyTrace] = []
    for run in runs:
        if is_profiling_run(run) and _epoch(run.started) >= start:
            found.extend(observations(store, run))
        offset = _epoch(run.started)
        for device in store.devices(run.id):
            info = device.info
            if info.kind == "host":
                continue
            cols = store.sample_arrays(run.id, info.device_id)
            if not cols["t"].size:
                continue
            traces.append(
                EnergyTrace(
                    run.host,
                    info.device_id,
                    cols["t"] + offset,
                    cols["energy_j"],
                    is_estimate(info.provenance),
                )
            )
    return Trend(
        _iso(start),
        _iso(end),
        len(runs),
        compute_series(found),
        daily_energy(traces, start, end),
    )
