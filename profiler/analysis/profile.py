"""Per workload x device summary of a profiling run.

The numbers the analyzer and the report use: peak units/s, overall units/J, IPR, EP and
the power curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
        peak_units_per_s: highest valid throughput, or None.
        metrics: ladder metrics, None without a valid loaded level and idle level.
        note: why metrics are missing, or that they restate a model.
    """

    workload: str
    device: str
    unit: str | None
    provenance: str | None
    peak_units_per_s: float | None
    metrics: Proportionality | None
    note: str | None

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
    peak = full[0].throughput if full else None
    if not full or not idle:
        missing = "100%" if not full else "active-idle"
        note = f"no valid {missing} level: ladder metrics not computed"
        return LadderSummary(workload, device, unit, provenance, peak, None, note)
    metrics = proportionality(loaded, idle[0], reference=full[0])
    estimated = is_estimate(provenance)
    model_note = ESTIMATE_NOTE.format(provenance=provenance) if estimated else None
    return LadderSummary(workload, device, unit, provenance, peak, metrics, model_note)
