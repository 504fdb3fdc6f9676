"""Efficiency and energy over time: units/J series with regressions, and daily energy (pure).

A point is the units/J of one profiling run at 100% target load, from phases the runner
marked valid. A series is one host, workload, device and workload size (sizes do
different work per unit). A point is a regression when its units/J is more than
`REGRESSION_DROP` below the median of the earlier points of its series measured the same
way (same provenance: an estimate is never compared with a measurement).

Daily energy sums, per UTC day, the energy counters of every run in the window (CPU
packages, DRAM, GPUs; not the `host` view), splitting a run across midnight by its
samples. Where runs overlap on the same host and device (a manual run during a monitor),
the later-starting run's overlapping samples are left out, so no joule is counted twice.

`profiler.workflows.trend.gather_trend` reads these inputs from the store.
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

from profiler.model.units import DAY_S

REGRESSION_DROP = 0.10
"""Units/J over 10% below the median of earlier runs is a regression (docs/schedule.md#trend)."""


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


def trend_point(observation: Observation, earlier: Sequence[Observation]) -> TrendPoint:
    """Return `observation` as a point, compared with the earlier ones of its provenance."""
    same_way = [p.units_per_j for p in earlier if p.provenance == observation.provenance]
    baseline = statistics.median(same_way) if same_way else None
    change = observation.units_per_j / baseline - 1 if baseline else None
    return TrendPoint(
        observation.run_id,
        observation.started,
        observation.units_per_j,
        observation.provenance,
        baseline,
        len(same_way),
        change,
        change is not None and change < -REGRESSION_DROP,
    )


def compute_series(observations: Iterable[Observation]) -> list[TrendSeries]:
    """Group observations into series and flag regressions."""
    groups: dict[tuple[str, str, str, str], list[Observation]] = defaultdict(list)
    for o in observations:
        groups[(o.host, o.workload, o.device, o.size)].append(o)
    series = []
    for (host, workload, device, size), group in sorted(groups.items()):
        group.sort(key=lambda o: (o.started, o.run_id))
        points = [trend_point(o, group[:i]) for i, o in enumerate(group)]
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
    """Sum energy per UTC day over the window; overlapping traces count once.

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
