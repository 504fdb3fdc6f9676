"""Everything a report shows about one run, built from its `RunData`.

Reports take data, never a database: `profiler.workflows.report.gather_report` reads the
run (`profiler.workflows.run_data.load_run_data`) and calls `report_data` here. Long
timelines are downsampled into buckets keeping min, mean and max, so a one-second spike
in a day-long run stays visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from profiler.analysis.profile import LadderSummary, summarise_ladders
from profiler.analysis.reconcile import WALL_KINDS, Reconciliation, reconcile
from profiler.analysis.summary import DeviceSummary, summarise_series
from profiler.model.device import DeviceRecord
from profiler.model.provenance import is_estimate
from profiler.model.run import PhaseRecord, RunRecord, RunStatus
from profiler.model.run_data import RunData
from profiler.model.series import DeviceSeries
from profiler.model.units import J_PER_KWH
from reports.i18n import N_

MAX_TIMELINE_POINTS = 1200
"""Buckets per device timeline: enough for a print-width chart, small enough for 3 MB."""

IDLE_UTIL = 0.05
"""A timeline bucket is idle when the device's mean utilisation is below 5 %."""

PhaseState = Literal["valid", "invalid", "disturbed"]


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
    idle: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    idle_time_share: float = 0.0
    idle_energy_j: float = 0.0
    idle_energy_share: float = 0.0


@dataclass(frozen=True)
class DataQuality:
    """Data-quality facts of one device: provenance, status, gaps, counter agreement."""

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
    """The whole content of one run's report, findings aside (they come with the analysis).

    Attributes:
        notes: what the report lacks (status, phases, samples, pruned raw samples), one
            translatable sentence each (`missing` gives them in English).
        reconciliation: wall power vs its parts, where a `node` device measured it.
        inventory: what the run ran on (kernel, microcode, firmware...), where stored.
        energy_seconds: device id -> seconds since run start of its last energy reading
            (the time its cumulative energy covers).
    """

    run: RunRecord
    devices: list[DeviceRecord]
    phases: list[PhaseRecord]
    ladders: list[LadderSummary]
    device_summaries: list[DeviceSummary]
    timelines: list[Timeline]
    quality: list[DataQuality]
    duration_s: float | None
    notes: list[Note] = field(default_factory=list)
    reconciliation: Reconciliation | None = None
    inventory: dict[str, str | None] | None = None
    energy_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        """What the report lacks, one English sentence each."""
        return [message % fields for message, fields in self.notes]

    @property
    def total_energy_j(self) -> float | None:
        """Energy of every device with a power figure (packages, DRAM, GPUs), in J.

        Wall power (`node`) is the server's whole draw, parts included: it is shown in the
        reconciliation, never added to the parts.
        """
        figures = [d.energy_j for d in self._counted if d.energy_j is not None]
        return sum(figures) if figures else None

    @property
    def total_energy_kwh(self) -> float | None:
        """Total energy in kWh (3,600,000 J per kWh exactly)."""
        energy = self.total_energy_j
        return None if energy is None else energy / J_PER_KWH

    @property
    def energy_parts(self) -> list[tuple[float, float]]:
        """(energy J, covered seconds) of each device the totals add, to annualise.

        A device's cumulative counter starts at 0 at run start, so its energy covers the
        seconds up to its last energy reading (`profiler.model.annual`).
        """
        return [
            (d.energy_j, self.energy_seconds.get(d.device, 0.0))
            for d in self._counted
            if d.energy_j is not None
        ]

    @property
    def _counted(self) -> list[DeviceSummary]:
        """The device summaries whose energy the totals add (not the wall's)."""
        return [
            d for d in self.device_summaries if d.energy_j is not None and d.kind not in WALL_KINDS
        ]

    @property
    def estimated(self) -> bool:
        """True when any device counted in the total has modelled power."""
        return any(is_estimate(p) for p in self.energy_provenance)

    @property
    def verdict(self) -> Verdict:
        """Page one's data-quality verdict."""
        counted = self._counted
        total = sum(d.energy_j or 0.0 for d in counted)
        measured = sum(d.energy_j or 0.0 for d in counted if not is_estimate(d.provenance))
        expected = (self.duration_s or 0.0) / (self.run.interval_s or 1.0)
        shares = [min(q.samples / expected, 1.0) for q in self.quality if expected >= 1]
        return Verdict(
            measured_share=measured / total if total > 0 else None,
            coverage=float(np.mean(shares)) if shares else None,
            disturbed=sum(phase_state(p) == "disturbed" for p in self.phases),
            invalid=sum(phase_state(p) == "invalid" for p in self.phases),
            phases=len(self.phases),
        )

    @property
    def energy_provenance(self) -> list[str]:
        """Distinct provenances of the devices counted in the total."""
        return sorted({d.provenance for d in self._counted if d.provenance})


def phase_state(phase: PhaseRecord) -> PhaseState:
    """Return how a phase may be shown: "valid", "invalid" or "disturbed".

    Disturbed (other processes held the CPU) wins over valid: its figures are shown with
    a warning and never drawn as a valid point.
    """
    if phase.metrics.disturbed:
        return "disturbed"
    return "valid" if phase.valid else "invalid"


@dataclass(frozen=True)
class Verdict:
    """The data-quality verdict of page one: how far the figures can be trusted.

    Attributes:
        measured_share: share of the run's energy from sensors (the rest is modelled).
        coverage: samples present over samples expected, mean over devices (0..1).
        disturbed: phases other processes disturbed.
        invalid: phases that are not valid.
        phases: all phases.
    """

    measured_share: float | None
    coverage: float | None
    disturbed: int
    invalid: int
    phases: int


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


def _timeline(device: str, series: DeviceSeries) -> Timeline:
    t = series.t
    tc, p_mean, p_min, p_max = downsample(t, series.power_w, MAX_TIMELINE_POINTS)
    _, u_mean, _, u_max = downsample(t, series.util, MAX_TIMELINE_POINTS)
    idle = np.nan_to_num(u_mean, nan=1.0) < IDLE_UTIL
    width = np.gradient(tc) if tc.size > 1 else np.ones(tc.size)
    energy = np.nan_to_num(p_mean) * width
    total = float(energy.sum())
    idle_j = float(energy[idle].sum())
    return Timeline(
        device,
        tc,
        p_mean,
        p_min,
        p_max,
        u_mean,
        u_max,
        int(t.size),
        idle=idle,
        idle_time_share=float(idle.mean()) if idle.size else 0.0,
        idle_energy_j=idle_j,
        idle_energy_share=idle_j / total if total > 0 else 0.0,
    )


def _quality(
    device: DeviceRecord,
    series: DeviceSeries,
    interval_s: float | None,
    disagreement: float | None,
) -> DataQuality:
    t = series.t
    gaps = 0
    longest: float | None = None
    if t.size > 1 and interval_s:
        dt = np.diff(t)
        gaps = int(np.count_nonzero(dt > 2 * interval_s))
        longest = float(dt.max())
    return DataQuality(
        device.info.device_id,
        device.info.provenance,
        device.status,
        device.status_reason,
        int(t.size),
        gaps,
        longest,
        disagreement,
    )


Note = tuple[str, dict[str, str]]
"""A sentence for the reader: an English message with `%(name)s` fields, and the fields
(translated by the renderer, formatted after)."""


def _missing(
    run: RunRecord, phases: Sequence[PhaseRecord], samples: int, pruned: Sequence[str]
) -> list[Note]:
    missing: list[Note] = []
    if run.status != RunStatus.COMPLETE:
        missing.append(
            (
                N_("the run is %(status)s: figures cover only the part that was recorded"),
                {"status": run.status},
            )
        )
    if not phases:
        missing.append(
            (N_("no workload phases: efficiency and proportionality sections are empty"), {})
        )
    if not samples:
        missing.append((N_("no samples were recorded"), {}))
    if pruned:
        missing.append(
            (
                N_(
                    "raw samples of %(devices)s were pruned by retention: their timelines, "
                    "energy and utilisation come from 1-minute rollups (minute means)"
                ),
                {"devices": ", ".join(pruned)},
            )
        )
    return missing


def _reconciliation(
    devices: Sequence[DeviceRecord], series: Mapping[str, DeviceSeries]
) -> Reconciliation | None:
    """Wall power vs its parts, None without a wall (`node`) device."""
    if not any(d.info.kind in WALL_KINDS for d in devices):
        return None
    return reconcile([series[d.info.device_id] for d in devices])


def report_data(
    data: RunData,
    inventory: Mapping[str, str | None] | None = None,
    disagreements: Mapping[str, float] | None = None,
) -> ReportData:
    """Build a run's `ReportData` from its `RunData` (every device's series read).

    Args:
        data: the run, its devices in report order, its phases (with their energy
            figures) and each device's samples; `rolled_up` names the devices whose
            series are 1-minute rollups because retention pruned their raw samples.
        inventory: the run's stored inventory (`Store.inventory`), None when it has none.
        disagreements: device id -> how far a sensor's power-integrated energy is from
            its counter, (integrated - counter) / counter (`Store.counter_disagreement`).
    """
    run = data.run
    timelines: list[Timeline] = []
    quality: list[DataQuality] = []
    summaries: list[DeviceSummary] = []
    seconds: dict[str, float] = {}
    for device in data.devices:
        device_id = device.info.device_id
        series = data.series[device_id]
        summaries.append(summarise_series(device, series))
        with_energy = series.t[~np.isnan(series.energy_delta_j)]
        if with_energy.size:
            seconds[device_id] = float(with_energy[-1])
        checked = (disagreements or {}).get(device_id)
        quality.append(_quality(device, series, run.interval_s, checked))
        if series.n:
            timelines.append(_timeline(device_id, series))
    pruned = [d.info.device_id for d in data.devices if d.info.device_id in data.rolled_up]
    return ReportData(
        run=run,
        devices=list(data.devices),
        phases=list(data.phases),
        ladders=summarise_ladders(data.phases),
        device_summaries=summaries,
        timelines=timelines,
        quality=quality,
        duration_s=run.duration_s,
        notes=_missing(run, data.phases, sum(q.samples for q in quality), pruned),
        reconciliation=_reconciliation(data.devices, data.series),
        inventory=dict(inventory) if inventory else None,
        energy_seconds=seconds,
    )
