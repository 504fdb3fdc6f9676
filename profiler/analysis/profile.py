"""Per workload x device summary of a profiling run.

The numbers the analyzer and the report use: peak units/s, overall units/J, IPR, EP and
the power curve, from clean (valid) phases only. On a shared host (docs/methodology.md
#ladder-and-validity) the phases other processes disturbed still give figures: the 100 %
level's throughput, the workload's own units/J by CPU time (`attributed_units_per_j`)
and one line on what was shared; the note says why EP and IPR are missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from profiler.analysis.phases import MAX_FOREIGN_CPU_SHARE
from profiler.analysis.proportionality import LadderLevel, Proportionality, proportionality
from profiler.model.provenance import is_estimate
from profiler.model.run import PhaseRecord

ESTIMATE_NOTE = (
    "power is estimated ({provenance}): EP and IPR restate the power model, "
    "they are not a property of this hardware"
)


@dataclass(frozen=True)
class LadderSummary:
    """One workload on one device.

    Attributes:
        workload: workload name.
        device: phase device id.
        unit: unit of work.
        provenance: provenance of the energy figures.
        peak_units_per_s: highest valid throughput; without a valid 100 % level, the
            100 % level's throughput measured on a shared host; else None.
        metrics: ladder metrics, None without a valid loaded level and idle level.
        note: why metrics are missing, or that they restate a model.
        attributed_units_per_j: units per joule of the workload's own energy (by CPU
            time) over its loaded shared-host phases, None without any.
        shared_host: one line on what was shared, None when no phase was.
    """

    workload: str
    device: str
    unit: str | None
    provenance: str | None
    peak_units_per_s: float | None
    metrics: Proportionality | None
    note: str | None
    attributed_units_per_j: float | None = None
    shared_host: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of `finwatt run --json` summary entries."""
        m = self.metrics
        return {
            "workload": self.workload,
            "device": self.device,
            "unit": self.unit,
            "peak_units_per_s": self.peak_units_per_s,
            "overall_units_per_j": m.overall_units_per_j if m else None,
            "ipr": m.ipr if m else None,
            "ep": m.ep if m else None,
            "power_curve": [list(point) for point in m.curve] if m else None,
            "provenance": self.provenance,
            "estimated": is_estimate(self.provenance),
            "note": self.note,
            "attributed_units_per_j": self.attributed_units_per_j,
            "shared_host": self.shared_host,
        }


def summarise_ladders(phases: Sequence[PhaseRecord]) -> list[LadderSummary]:
    """Summarise each workload x device of a run from its phases (valid ones only)."""
    groups: dict[tuple[str, str], list[PhaseRecord]] = {}
    for phase in phases:
        groups.setdefault((phase.workload, phase.device_id), []).append(phase)
    return [_summarise(workload, device, group) for (workload, device), group in groups.items()]


def _level(phase: PhaseRecord) -> LadderLevel | None:
    throughput = phase.metrics.units_per_s
    power_w = phase.metrics.mean_power_w
    if throughput is None or power_w is None:
        return None
    return LadderLevel(float(throughput), float(power_w))


def _summarise(workload: str, device: str, phases: list[PhaseRecord]) -> LadderSummary:
    valid = [p for p in phases if p.valid]
    provenance = next((p.metrics.provenance for p in phases if p.metrics.provenance), None)
    unit = next((p.unit for p in phases if p.unit), None)
    full = [lvl for p in valid if p.target_load == 1.0 and (lvl := _level(p))]
    loaded = [lvl for p in valid if p.target_load > 0 and (lvl := _level(p))]
    idle = [lvl.power_w for p in valid if p.target_load == 0 and (lvl := _level(p))]
    summary = LadderSummary(
        workload,
        device,
        unit,
        provenance,
        None,
        None,
        None,
        attributed_units_per_j=_attributed_units_per_j(phases),
        shared_host=shared_host_line(phases),
    )
    if not full or not idle:
        missing = "100%" if not full else "active-idle"
        peak = full[0].throughput if full else _shared_peak(phases)
        note = _missing_note(phases, 1.0 if not full else 0.0, missing)
        return replace(summary, peak_units_per_s=peak, note=note)
    metrics = proportionality(loaded, idle[0], reference=full[0])
    estimated = is_estimate(provenance)
    model_note = ESTIMATE_NOTE.format(provenance=provenance) if estimated else None
    return replace(summary, peak_units_per_s=full[0].throughput, metrics=metrics, note=model_note)


def _share_range(phases: Sequence[PhaseRecord]) -> str:
    shares = [p.metrics.foreign_cpu_share or 0.0 for p in phases]
    low, high = min(shares), max(shares)
    return f"{low:.0%}" if f"{low:.0%}" == f"{high:.0%}" else f"{low:.0%}-{high:.0%}"


def _missing_note(phases: Sequence[PhaseRecord], target: float, missing: str) -> str:
    """Why a ladder has no metrics: other processes' load where that was the cause."""
    disturbed = [p for p in phases if p.metrics.disturbed]
    level = [p for p in phases if p.target_load == target]
    limit = f"(limit {MAX_FOREIGN_CPU_SHARE:.0%}); EP and IPR come from clean phases only"
    if phases and len(disturbed) == len(phases):
        return (
            f"no clean phase: other processes used {_share_range(disturbed)} of the host's "
            f"CPU in every phase {limit}"
        )
    if level and all(p.metrics.disturbed for p in level):
        return (
            f"no clean {missing} level: other processes used {_share_range(level)} of the "
            f"host's CPU in it {limit}"
        )
    return f"no valid {missing} level: ladder metrics not computed"


def _shared_peak(phases: Sequence[PhaseRecord]) -> float | None:
    """The 100 % level's throughput where it ran on a shared host (its figures kept)."""
    rates = [
        float(p.metrics.units_per_s)
        for p in phases
        if p.target_load == 1.0 and p.metrics.shared_host and p.metrics.units_per_s
    ]
    return max(rates) if rates else None


def _attributed_units_per_j(phases: Sequence[PhaseRecord]) -> float | None:
    """Units per joule of the workload's own energy over its loaded shared-host phases."""
    shared = [
        p
        for p in phases
        if p.target_load > 0 and p.metrics.shared_host and p.metrics.attributed_energy_j
    ]
    energy_j = sum(float(p.metrics.attributed_energy_j or 0.0) for p in shared)
    units = sum(float(p.units or 0.0) for p in shared)
    return units / energy_j if energy_j > 0 else None


def shared_host_line(phases: Sequence[PhaseRecord]) -> str | None:
    """Return one line on what a ladder shared with other processes, None if nothing."""
    shared = [p for p in phases if p.metrics.shared_host]
    if not shared:
        return None
    sources = sorted({p.metrics.attributed_provenance or "" for p in shared} - {""})
    policies = sorted({p.metrics.idle_share or "none" for p in shared})
    return (
        f"shared host: {len(shared)} of {len(phases)} phases disturbed (other processes used "
        f"{_share_range(shared)} of the host's CPU); their energy is the workload's own by "
        f"CPU time ({', '.join(sources) or 'attributed:cpu-time'}, idle share "
        f"{', '.join(policies)})"
    )
