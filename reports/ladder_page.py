"""Page one of a profiling run: what its ladders measured, and why it may find nothing.

A profiling run measures a workload's efficiency on a device under a deliberate load:
J per 1,000 units and units per joule at 100 % load, EP and IPR over the ladder, the
idle power, and which device does the workload's work for the fewest joules. It does
not measure the host's year. When the analysis finds nothing, page one says so only
when the data could have shown something: not when every energy figure comes from a
power model, every phase was disturbed or invalid, or no ladder has the levels EP and
IPR need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from profiler.analysis.phases import workload_figures
from profiler.analysis.profile import LadderSummary
from profiler.model.provenance import is_estimate
from profiler.model.run import PhaseRecord
from reports.data import ReportData, phase_state
from reports.i18n import N_


@dataclass(frozen=True)
class LadderFigures:
    """What one ladder (a workload on a device) measured.

    Attributes:
        j_per_1000_units: at 100 % load, from its valid, undisturbed phase (None without).
        units_per_j: at 100 % load, from the same phase.
        overall_units_per_j: the SPECpower overall figure over the ladder; on a shared
            host the workload's own units/J by CPU time over its loaded levels, as the
            CLI's summary gives it.
        idle_w: the active-idle level's mean power.
        note: why EP and IPR are missing, or that they restate a model.
        shared: True when no undisturbed 100 % level exists and the two 100 % figures are
            the 100 % level's own energy by CPU time on a shared host
            (`PhaseMetrics.attributed_energy_j`).
    """

    workload: str
    device: str
    unit: str | None
    provenance: str | None
    j_per_1000_units: float | None
    units_per_j: float | None
    overall_units_per_j: float | None
    ep: float | None
    ipr: float | None
    idle_w: float | None
    note: str | None
    shared: bool = False

    @property
    def estimated(self) -> bool:
        """True when the ladder's energy figures come from a power model."""
        return is_estimate(self.provenance)


def _full_load(summary: LadderSummary, phases: Sequence[PhaseRecord]) -> PhaseRecord | None:
    return next(
        (
            p
            for p in phases
            if p.workload == summary.workload
            and p.device_id == summary.device
            and p.target_load == 1.0
            and phase_state(p) == "valid"
        ),
        None,
    )


def _shared_units_per_j(summary: LadderSummary, phases: Sequence[PhaseRecord]) -> float | None:
    """Units/J of the 100 % level's own energy by CPU time, where the host was shared.

    The phase tables' figure (`workload_figures`), so page one and section 3 agree.
    """
    for p in phases:
        if p.workload == summary.workload and p.device_id == summary.device:
            own = workload_figures(p) if p.target_load == 1.0 else None
            if own is not None and own.shared and own.units_per_j:
                return own.units_per_j
    return None


def ladder_figures(
    ladders: Sequence[LadderSummary], phases: Sequence[PhaseRecord]
) -> list[LadderFigures]:
    """Return each ladder's figures, the one page one leads with first.

    Page one leads with a measured ladder that has EP and IPR, else any ladder with
    them, else the first.
    """
    figures = []
    for s in ladders:
        full, m = _full_load(s, phases), s.metrics
        own = None if full else _shared_units_per_j(s, phases)
        shared = own is not None
        figures.append(
            LadderFigures(
                s.workload,
                s.device,
                s.unit,
                s.provenance,
                full.metrics.j_per_1000_units if full else (1000.0 / own if own else None),
                full.metrics.units_per_j if full else own,
                m.overall_units_per_j if m else s.attributed_units_per_j,  # as the CLI's summary
                m.ep if m else None,
                m.ipr if m else None,
                m.curve[0][1] if m else None,
                s.note,
                shared,
            )
        )
    return sorted(figures, key=lambda f: (f.ep is None, f.estimated))


@dataclass(frozen=True)
class Placement:
    """Where the headline workload does the most work per joule at 100 % load.

    Attributes:
        device: the device with the highest units/J, None when no device has one.
        ratio: its units/J over the next best device's, None with one device only.
        other: the next best device, None with one device only.
    """

    workload: str
    device: str | None
    ratio: float | None
    other: str | None


def placement(figures: Sequence[LadderFigures]) -> Placement | None:
    """Return the placement of the headline ladder's workload, None without a ladder."""
    if not figures:
        return None
    workload = figures[0].workload
    ranked = sorted(
        (f for f in figures if f.workload == workload and f.units_per_j),
        key=lambda f: f.units_per_j or 0.0,
        reverse=True,
    )
    if not ranked:
        return Placement(workload, None, None, None)
    best = ranked[0]
    if len(ranked) == 1:
        return Placement(workload, best.device, None, None)
    other = ranked[1]
    return Placement(
        workload, best.device, (best.units_per_j or 0) / (other.units_per_j or 1), other.device
    )


def why_no_findings(data: ReportData) -> list[str]:
    """Return why a profiling run's data could not have shown a finding (English ids).

    Empty for a monitoring run, a run without phases, or data that could have shown one.
    """
    if not data.run.is_profiling or not data.phases:
        return []
    reasons = []
    provenances = [p.metrics.provenance for p in data.phases if p.metrics.provenance]
    if provenances and all(is_estimate(p) for p in provenances):
        reasons.append(N_("every energy figure is estimated by a power model"))
    if all(phase_state(p) != "valid" for p in data.phases if p.target_load > 0):
        reasons.append(N_("every phase was disturbed or invalid"))
    elif not any(s.metrics for s in data.ladders):
        reasons.append(N_("no ladder has a valid full-load and active-idle level for EP and IPR"))
    return reasons
