"""Ladder phases evaluated from the data: phases + samples, for recorded and imported runs.

A phase's figures (energy, mean power, throughput, coverage, validity) are computed from
its window and the run's samples (`phases.phase_metrics`), never read from what a
document states about itself. Where a document states no achieved load, it is derived
from throughput against the level's 100 % reference (the calibrated `x_max_units_per_s`
where stated, else the 100 % level of the same workload and device); where it states
no validity, validity is derived. Figures the document does state are compared with the
samples' figures: a difference of more than `STATED_TOLERANCE` is a data-quality
finding (`Disagreement`), and the samples' figure is the one used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from statistics import median
from typing import Any

from profiler.analysis.phases import phase_metrics
from profiler.analysis.thresholds import above
from profiler.model.device import DeviceRecord
from profiler.model.findings import Finding
from profiler.model.run import PhaseRecord
from profiler.model.series import DeviceSeries

STATED_TOLERANCE = 0.02
"""A stated figure more than 2 % away from the samples' figure is reported."""

_COMPARED = ("energy_j", "mean_power_w", "units_per_s")


@dataclass(frozen=True)
class Disagreement:
    """A figure a phase states that its samples do not bear out (beyond 2 %).

    Attributes:
        workload: the phase's workload.
        device: the phase's device.
        target_load: the phase's target load (0..1).
        figure: the figure's name (`energy_j`, `mean_power_w`, `units_per_s`).
        stated: the value the document states.
        from_samples: the value computed from the phase's samples (the one used).
    """

    workload: str
    device: str
    target_load: float
    figure: str
    stated: float
    from_samples: float

    @property
    def relative_difference(self) -> float:
        """(stated - from samples) / from samples."""
        return (self.stated - self.from_samples) / self.from_samples

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape (`metrics.data_quality.stated_figures` entries)."""
        return {**asdict(self), "relative_difference": self.relative_difference}


@dataclass(frozen=True)
class LadderData:
    """A run's phases with figures from the data, and what did not agree with them."""

    phases: list[PhaseRecord]
    disagreements: list[Disagreement] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)


def typical_interval_s(series: Mapping[str, DeviceSeries]) -> float | None:
    """Return the median interval between one device's consecutive samples, in seconds."""
    steps = [b - a for one in series.values() for a, b in pairwise(one.t.tolist())]
    positive = [step for step in steps if step > 0]
    return median(positive) if positive else None


def _references(phases: Sequence[PhaseRecord]) -> dict[tuple[str, str], float]:
    """Each workload x device's 100 % throughput: calibrated where stated, else measured."""
    refs: dict[tuple[str, str], float] = {}
    for p in phases:
        key = (p.workload, p.device_id)
        if p.metrics.x_max_units_per_s:
            refs.setdefault(key, float(p.metrics.x_max_units_per_s))
    for p in phases:
        key = (p.workload, p.device_id)
        seconds = p.t_end - p.t_start
        if key not in refs and p.target_load == 1.0 and p.units and seconds > 0:
            refs[key] = p.units / seconds
    return refs


def _with_achieved_load(phase: PhaseRecord, refs: dict[tuple[str, str], float]) -> PhaseRecord:
    if phase.achieved_load is not None:
        return phase
    if phase.target_load == 0:
        return replace(phase, achieved_load=0.0)
    ref = refs.get((phase.workload, phase.device_id))
    seconds = phase.t_end - phase.t_start
    if ref is None or phase.units is None or seconds <= 0:
        return phase
    return replace(phase, achieved_load=phase.units / seconds / ref)


def phases_from_data(
    phases: Sequence[PhaseRecord],
    devices: Sequence[DeviceRecord],
    series: Mapping[str, DeviceSeries],
    interval_s: float | None = None,
) -> LadderData:
    """Evaluate every phase from the samples; report stated figures that disagree.

    Args:
        phases: the run's phases as stored (recorded or imported).
        devices: the run's devices.
        series: {device id: the run's raw `DeviceSeries`} (`store.samples.series`).
        interval_s: the run's sampling interval; default the samples' median interval.
    """
    interval = interval_s or typical_interval_s(series) or 1.0
    refs = _references(phases)
    out: list[PhaseRecord] = []
    disagreements: list[Disagreement] = []
    unverified: list[str] = []
    for stated in phases:
        if stated.units is None:  # a failed phase: nothing to evaluate
            out.append(stated)
            continue
        phase = _with_achieved_load(stated, refs)
        metrics = phase_metrics(phase, devices, series, interval)
        if metrics.energy_j is None and stated.metrics.mean_power_w is not None:
            # no samples cover the phase: its stated figures are all there is
            unverified.append(f"{stated.workload} {stated.device_id} {stated.target_load:.0%}")
            metrics = stated.metrics.updated(invalid_reasons=metrics.invalid_reasons)
        for name in _COMPARED:
            said, seen = getattr(stated.metrics, name), getattr(metrics, name)
            if said is not None and seen and above(abs(said - seen) / abs(seen), STATED_TOLERANCE):
                disagreements.append(
                    Disagreement(
                        stated.workload,
                        stated.device_id,
                        stated.target_load,
                        name,
                        float(said),
                        float(seen),
                    )
                )
        valid = stated.valid if stated.valid is not None else not metrics.invalid_reasons
        out.append(replace(phase, metrics=metrics, valid=valid))
    return LadderData(out, disagreements, unverified)


def data_quality(data: LadderData) -> dict[str, Any]:
    """Return the run's data-quality figures (`metrics.data_quality` of `analyze --json`)."""
    return {
        "stated_figures_disagreeing": [d.as_dict() for d in data.disagreements],
        "phases_without_samples": list(data.unverified),
        "disturbed_phases": [
            {
                "workload": p.workload,
                "device": p.device_id,
                "target_load": p.target_load,
                "foreign_cpu_share": p.metrics.foreign_cpu_share,
            }
            for p in data.phases
            if p.metrics.disturbed
        ],
        "stated_tolerance": STATED_TOLERANCE,
    }


def data_quality_finding(data: LadderData) -> Finding | None:
    """STATED_FIGURES_DISAGREE: a document's own figures that its samples do not bear out."""
    if not data.disagreements:
        return None
    first = data.disagreements[0]
    return Finding(
        rule="STATED_FIGURES_DISAGREE",
        device=first.device,
        severity="warning",
        message=(
            f"{len(data.disagreements)} figure(s) stated by the run differ from its samples "
            f"by more than {STATED_TOLERANCE:.0%} (e.g. {first.workload} at "
            f"{first.target_load:.0%}: {first.figure} {first.stated:.4g} stated, "
            f"{first.from_samples:.4g} from samples); the samples' figures are used."
        ),
        evidence={"stated_figures": [d.as_dict() for d in data.disagreements]},
        confidence="high",
        assumptions=("phase figures are computed from the samples, not read from the document",),
    )
