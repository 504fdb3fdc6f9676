"""Everything a report shows about one run, built from records and sample columns.

Reports take data, never a database: `profiler.workflows.report.gather_report` reads the
store and calls `report_data` here. Long timelines are downsampled into buckets keeping
min, mean and max, so a one-second spike in a day-long run stays visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from profiler.analysis.profile import LadderSummary, summarise_ladders
from profiler.analysis.reconcile import WALL_KINDS, Reconciliation, reconcile
from profiler.analysis.summary import DeviceSummary, summarise_columns
from profiler.model.device import DeviceRecord
from profiler.model.provenance import is_estimate
from profiler.model.run import PhaseRecord, RunRecord, RunStatus
from profiler.model.series import device_series
from profiler.model.units import HOUR_S, HOURS_PER_YEAR, J_PER_KWH
from reports.i18n import N_

MAX_TIMELINE_POINTS = 1200
"""Buckets per device timeline: enough for a print-width chart, small enough for 3 MB."""

IDLE_UTIL = 0.05
"""A timeline bucket is idle when the device's mean utilisation is below 5 %."""

PhaseState = Literal["valid", "invalid", "disturbed"]

Columns = Mapping[str, npt.NDArray[np.float64]]
"""One device's samples as columns: `t` (seconds since run start) and every metric of
`profiler.model.samples.METRICS`, NaN where absent (the shape of `store.samples.sample_arrays`)."""


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
    def energy_kwh_per_year(self) -> float | None:
        """IT energy per year at the run's observed mean rate, in kWh."""
        energy = self.total_energy_kwh
        if energy is None or not self.duration_s:
            return None
        return energy / (self.duration_s / HOUR_S) * HOURS_PER_YEAR

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


def _timeline(device: str, cols: Columns) -> Timeline:
    t = cols["t"]
    tc, p_mean, p_min, p_max = downsample(t, cols["power_w"], MAX_TIMELINE_POINTS)
    _, u_mean, _, u_max = downsample(t, cols["util"], MAX_TIMELINE_POINTS)
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


def _quality(device: DeviceRecord, cols: Columns, interval_s: float | None) -> DataQuality:
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
    devices: Sequence[DeviceRecord], columns: Mapping[str, Columns]
) -> Reconciliation | None:
    """Wall power vs its parts, None without a wall (`node`) device."""
    if not any(d.info.kind in WALL_KINDS for d in devices):
        return None
    series = []
    for d in devices:
        cols = columns[d.info.device_id]
        series.append(
            device_series(d.info, cols["t"], power_w=cols["power_w"], energy_j=cols["energy_j"])
        )
    return reconcile(series)


def report_data(
    run: RunRecord,
    devices: Sequence[DeviceRecord],
    phases: Sequence[PhaseRecord],
    columns: Mapping[str, Columns],
    pruned: Sequence[str] = (),
    inventory: Mapping[str, str | None] | None = None,
) -> ReportData:
    """Build a run's `ReportData` from its records and each device's sample columns.

    Args:
        run: the run.
        devices: its devices, in report order.
        phases: its phases (with their energy figures).
        columns: device id -> that device's samples (a device without an entry has none).
        pruned: ids of the devices whose columns are 1-minute rollups because retention
            pruned their raw samples.
        inventory: the run's stored inventory (`store.inventory.for_run`), None when it has none.
    """
    timelines: list[Timeline] = []
    quality: list[DataQuality] = []
    summaries: list[DeviceSummary] = []
    for device in devices:
        cols = columns[device.info.device_id]
        summaries.append(summarise_columns(device, cols["t"], cols["util"], cols["energy_j"]))
        quality.append(_quality(device, cols, run.interval_s))
        if cols["t"].size:
            timelines.append(_timeline(device.info.device_id, cols))
    return ReportData(
        run=run,
        devices=list(devices),
        phases=list(phases),
        ladders=summarise_ladders(phases),
        device_summaries=summaries,
        timelines=timelines,
        quality=quality,
        duration_s=run.duration_s,
        notes=_missing(run, phases, sum(q.samples for q in quality), pruned),
        reconciliation=_reconciliation(devices, columns),
        inventory=dict(inventory) if inventory else None,
    )
