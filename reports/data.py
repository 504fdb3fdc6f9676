"""Everything a report shows, gathered from a stored run and its analysis.

Reports read stored runs and analysis results; they never sample (design.md). Long
timelines are downsampled into buckets keeping min, mean and max, so a one-second spike
in a day-long run stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from profiler.analysis.profile import LadderSummary, summarise_ladders
from profiler.analysis.summary import DeviceSummary, summarise_columns
from profiler.model.device import DeviceRecord
from profiler.model.run import PhaseRecord, RunRecord
from profiler.model.units import J_PER_KWH, epoch_s
from profiler.store.database import Store

MAX_TIMELINE_POINTS = 1200
"""Buckets per device timeline: enough for a print-width chart, small enough for 3 MB."""


@dataclass(frozen=True)
class Timeline:
    """One device's downsampled power and utilisation over the run (seconds since start)."""

    device: str
    t: npt.NDArray[np.float64]
    power_mean: npt.NDArray[np.float64]
    power_min: npt.NDArray[np.float64]
    power_max: npt.NDArray[np.float64]
    util_mean: npt.NDArray[np.float64]
    util_max: npt.NDArray[np.float64]
    samples: int


@dataclass(frozen=True)
class Quality:
    """Data-quality facts of one device."""

    device: str
    provenance: str | None
    status: str
    status_reason: str | None
    samples: int
    gaps: int
    longest_gap_s: float | None
    nvml_disagreement: float | None


@dataclass
class ReportData:
    """The whole content of one report."""

    run: RunRecord
    devices: list[DeviceRecord]
    phases: list[PhaseRecord]
    ladders: list[LadderSummary]
    device_summaries: list[DeviceSummary]
    timelines: list[Timeline]
    quality: list[Quality]
    analysis: dict[str, Any] | None
    duration_s: float | None
    missing: list[str] = field(default_factory=list)

    @property
    def total_energy_j(self) -> float | None:
        """Energy of every device with a power figure (packages, DRAM, GPUs), in J."""
        figures = [d.energy_j for d in self.device_summaries if d.energy_j is not None]
        return sum(figures) if figures else None

    @property
    def total_energy_kwh(self) -> float | None:
        """Total energy in kWh (3,600,000 J per kWh exactly)."""
        energy = self.total_energy_j
        return None if energy is None else energy / J_PER_KWH

    @property
    def energy_provenance(self) -> list[str]:
        """Distinct provenances of the devices counted in the total."""
        return sorted(
            {d.provenance for d in self.device_summaries if d.energy_j is not None and d.provenance}
        )


def downsample(
    t: npt.NDArray[np.float64], values: npt.NDArray[np.float64], buckets: int
) -> tuple[npt.NDArray[np.float64], ...]:
    """Return (bucket t, mean, min, max) over equal-time buckets, NaN-aware."""
    if t.size == 0:
        empty = np.array([], dtype=np.float64)
        return empty, empty, empty, empty
    if t.size <= buckets:
        return t, values, values, values
    edges = np.linspace(t[0], t[-1], buckets + 1)
    index = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, buckets - 1)
    valid = ~np.isnan(values)
    counts = np.bincount(index[valid], minlength=buckets).astype(np.float64)
    sums = np.bincount(index[valid], weights=values[valid], minlength=buckets)
    mins = np.full(buckets, np.inf)
    maxs = np.full(buckets, -np.inf)
    np.minimum.at(mins, index[valid], values[valid])
    np.maximum.at(maxs, index[valid], values[valid])
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    empty_bucket = counts == 0
    mins[empty_bucket] = np.nan
    maxs[empty_bucket] = np.nan
    centres = (edges[:-1] + edges[1:]) / 2
    return centres, means, mins, maxs


def _timeline(device: str, cols: dict[str, npt.NDArray[np.float64]]) -> Timeline:
    t = cols["t"]
    tc, p_mean, p_min, p_max = downsample(t, cols["power_w"], MAX_TIMELINE_POINTS)
    _, u_mean, _, u_max = downsample(t, cols["util"], MAX_TIMELINE_POINTS)
    return Timeline(device, tc, p_mean, p_min, p_max, u_mean, u_max, int(t.size))


def _quality(
    device: DeviceRecord, cols: dict[str, npt.NDArray[np.float64]], interval_s: float | None
) -> Quality:
    t = cols["t"]
    gaps = 0
    longest: float | None = None
    if t.size > 1 and interval_s:
        dt = np.diff(t)
        gaps = int(np.count_nonzero(dt > 2 * interval_s))
        longest = float(dt.max())
    disagreement = None
    counter = cols["energy_j"][~np.isnan(cols["energy_j"])]
    integrated = cols["energy_from_power_j"][~np.isnan(cols["energy_from_power_j"])]
    if counter.size and integrated.size and counter[-1] > 0:
        disagreement = float((integrated[-1] - counter[-1]) / counter[-1])
    return Quality(
        device.info.device_id,
        device.info.provenance,
        device.status,
        device.status_reason,
        int(t.size),
        gaps,
        longest,
        disagreement,
    )


def _minute_arrays(store: Store, run_id: str, device_id: str) -> dict[str, npt.NDArray[np.float64]]:
    """Return one device's minute rollups shaped like `Store.sample_arrays` columns.

    `t` is each minute's last sample, `util`/`power_w` the minute means, `energy_j` the
    cumulative energy at the minute's end; metrics rollups do not keep are NaN.
    """
    rows = store.minute_rows(run_id, device_id)
    n = len(rows)

    def column(fn: Any) -> npt.NDArray[np.float64]:
        return np.array([fn(r) for r in rows], dtype=np.float64).reshape(n)

    def mean(total: str, count: str) -> Any:
        return lambda r: r[total] / r[count] if r[count] else np.nan

    energy = column(lambda r: np.nan if r["energy_j"] is None else r["energy_j"])
    nan = np.full(n, np.nan)
    return {
        "t": column(lambda r: r["t_last"]),
        "util": column(mean("util_sum", "util_n")),
        "power_w": column(mean("power_sum", "power_n")),
        "energy_j": np.where(np.isnan(energy), np.nan, np.nancumsum(energy)),
        "energy_from_power_j": nan,
        "mem_used_bytes": column(
            lambda r: np.nan if r["mem_max_bytes"] is None else r["mem_max_bytes"]
        ),
        "clock_mhz": nan,
        "temperature_c": nan,
        "sm_active": column(mean("sm_sum", "sm_n")),
    }


def _duration_s(run: RunRecord) -> float | None:
    if not run.ended:
        return None
    return epoch_s(run.ended) - epoch_s(run.started)


def gather(store: Store, run_id: str, analysis: dict[str, Any] | None) -> ReportData:
    """Collect a stored run, its phases and its analysis into a `ReportData`.

    Raises:
        KeyError: no run `run_id` in the store.
    """
    run = store.get_run(run_id)
    if run is None:
        raise KeyError(run_id)
    devices = store.devices(run_id)
    phases = store.phases(run_id)
    timelines: list[Timeline] = []
    quality: list[Quality] = []
    summaries: list[DeviceSummary] = []
    pruned: list[str] = []
    for device in devices:
        cols = store.sample_arrays(run_id, device.info.device_id)
        rolled = _minute_arrays(store, run_id, device.info.device_id)
        if rolled["t"].size and (not cols["t"].size or rolled["t"][0] < cols["t"][0] - 60.0):
            # retention pruned this device's early raw samples: its minute rollups still
            # cover the whole run, so the report uses them (exact energy, minute means)
            cols = rolled
            pruned.append(device.info.device_id)
        summaries.append(summarise_columns(device, cols["t"], cols["util"], cols["energy_j"]))
        quality.append(_quality(device, cols, run.interval_s))
        if cols["t"].size:
            timelines.append(_timeline(device.info.device_id, cols))
    missing = []
    if run.status != "complete":
        missing.append(f"the run is {run.status}: figures cover only the part that was recorded")
    if not phases:
        missing.append("no workload phases: efficiency and proportionality sections are empty")
    if not any(q.samples for q in quality):
        missing.append("no samples were recorded")
    if analysis is None:
        missing.append("no analysis: findings and savings are not shown")
    if pruned:
        missing.append(
            f"raw samples of {', '.join(pruned)} were pruned by retention: their timelines, "
            "energy and utilisation come from 1-minute rollups (minute means)"
        )
    return ReportData(
        run=run,
        devices=devices,
        phases=phases,
        ladders=summarise_ladders(phases),
        device_summaries=summaries,
        timelines=timelines,
        quality=quality,
        analysis=analysis,
        duration_s=_duration_s(run),
        missing=missing,
    )
