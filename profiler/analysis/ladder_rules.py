"""Rules from load ladders (docs/methodology.md#rules): efficiency, proportionality, placement.

- LOW_EFFICIENCY_HOST: rel_eff at the observed mean utilisation < 0.5, from a measured
  ladder (Barroso & Hoelzle 2007).
- POOR_PROPORTIONALITY: EP < 0.5 or IPR > 0.5 (Ryckbosch et al. 2011; Barroso).
- BETTER_PLACEMENT: a workload's units/J on another device of this host is >= 1.5x its
  device's at the same load level (finwatt). GPU phases count the host CPU energy that
  feeds the GPU where it was measured (`units_per_j_incl_host`).

Where power is `estimated:`, EP and IPR restate the power model: such a ladder never
yields LOW_EFFICIENCY_HOST, and its POOR_PROPORTIONALITY is an `info` finding that says
so, with confidence low.
"""

from __future__ import annotations

from collections.abc import Sequence

from profiler.analysis.confidence import Quality, curve_tier, lowest, power_tier
from profiler.analysis.curve import ladder_curve
from profiler.analysis.profile import ESTIMATE_NOTE, LadderSummary
from profiler.analysis.thresholds import Thresholds, at_least, at_most, below
from profiler.model.findings import Finding
from profiler.model.provenance import is_estimate
from profiler.model.run import PhaseRecord


def _quality(summary: LadderSummary) -> Quality:
    provenances = (summary.provenance or "none").split(",")
    curve = (
        ladder_curve(summary.metrics, summary.workload, estimated=is_estimate(summary.provenance))
        if summary.metrics
        else None
    )
    notes = (
        (ESTIMATE_NOTE.format(provenance=summary.provenance),) if curve and curve.estimated else ()
    )
    return Quality(power=power_tier(provenances), curve=curve_tier(curve), notes=notes)


def poor_proportionality(summary: LadderSummary, thresholds: Thresholds) -> Finding | None:
    """POOR_PROPORTIONALITY for one workload x device ladder."""
    m = summary.metrics
    if m is None or (at_least(m.ep, thresholds.poor_ep) and at_most(m.ipr, thresholds.poor_ipr)):
        return None
    quality = _quality(summary)
    estimated = is_estimate(summary.provenance)
    if estimated:
        message = (
            f"the power model for {summary.device} ({summary.provenance}) gives EP {m.ep:.2f} "
            f"and IPR {m.ipr:.2f} under {summary.workload}: this restates the model, not the "
            f"hardware; measure with RAPL or NVML before acting."
        )
    else:
        message = (
            f"{summary.device} is poorly energy-proportional under {summary.workload}: EP "
            f"{m.ep:.2f}, idle draws {m.ipr:.0%} of peak power; consolidate load onto fewer, "
            f"busier machines or enable deeper idle states."
        )
    return Finding(
        rule="POOR_PROPORTIONALITY",
        device=summary.device,
        severity="info" if estimated else "warning",
        message=message,
        evidence={
            "workload": summary.workload,
            "ep": m.ep,
            "ipr": m.ipr,
            "dynamic_range": m.dynamic_range,
            "provenance": summary.provenance,
            "estimated": estimated,
        },
        confidence="low" if estimated else quality.tier(with_savings=False),
        assumptions=(*quality.notes, "EP per Ryckbosch et al. 2011; IPR = P_idle / P_100"),
    )


def low_efficiency_host(
    summary: LadderSummary, observed_util: float | None, thresholds: Thresholds
) -> Finding | None:
    """LOW_EFFICIENCY_HOST: rel_eff at the observed mean utilisation < 0.5 (CPU ladders)."""
    m = summary.metrics
    if m is None or observed_util is None or is_estimate(summary.provenance):
        return None
    if summary.device != "cpu" and not summary.device.startswith("cpu:"):
        return None
    rel_eff = m.rel_eff(observed_util)
    if rel_eff is None or at_least(rel_eff, thresholds.low_rel_eff):
        return None
    quality = _quality(summary)
    return Finding(
        rule="LOW_EFFICIENCY_HOST",
        device=summary.device,
        severity="warning",
        message=(
            f"at its observed mean load of {observed_util:.0%} this host does "
            f"{summary.workload} at {rel_eff:.0%} of its peak efficiency (units/J); "
            f"consolidate work to run it busier or power-cap it."
        ),
        evidence={
            "workload": summary.workload,
            "observed_mean_util": observed_util,
            "rel_eff": rel_eff,
            "power_at_util_w": m.power_at(observed_util),
            "ep": m.ep,
            "ipr": m.ipr,
        },
        confidence=quality.tier(with_savings=False),
        assumptions=(
            *quality.notes,
            "rel_eff(u) = u / p(u) on the measured ladder (Barroso & Hoelzle 2007)",
            "observed mean utilisation taken as the ladder's load level u",
        ),
    )


def _efficiency(phase: PhaseRecord) -> float | None:
    with_host = phase.metrics.units_per_j_incl_host
    value = with_host if with_host is not None else phase.metrics.units_per_j
    return float(value) if value else None


def better_placement(phases: Sequence[PhaseRecord], thresholds: Thresholds) -> list[Finding]:
    """BETTER_PLACEMENT: per workload, each device compared with its most efficient peer.

    Compared at the highest load level both devices held validly.
    """
    by_workload: dict[str, dict[str, dict[float, PhaseRecord]]] = {}
    for p in phases:
        if p.valid and p.target_load > 0 and _efficiency(p):
            by_workload.setdefault(p.workload, {}).setdefault(p.device_id, {})[p.target_load] = p
    found = []
    for workload, devices in by_workload.items():
        for device, levels in devices.items():
            best: tuple[float, str, PhaseRecord, PhaseRecord] | None = None
            for other, other_levels in devices.items():
                common = sorted(set(levels) & set(other_levels))
                if other == device or not common:
                    continue
                here, there = levels[common[-1]], other_levels[common[-1]]
                ratio = (_efficiency(there) or 0.0) / (_efficiency(here) or 1.0)
                if best is None or ratio > best[0]:
                    best = (ratio, other, here, there)
            if best is None or below(best[0], thresholds.placement_ratio):
                continue
            ratio, other, here, there = best
            provenances = [p.metrics.provenance or "none" for p in (here, there)]
            estimated = any(is_estimate(p) for p in provenances)
            quality = Quality(power=power_tier(",".join(provenances).split(",")), curve="high")
            notes = ["units/J compared at the same target load; GPU figures include host CPU"]
            if estimated:
                notes.append("a power figure is estimated: the comparison restates a model")
            found.append(
                Finding(
                    rule="BETTER_PLACEMENT",
                    device=device,
                    severity="info" if estimated else "warning",
                    message=(
                        f"{workload} does {ratio:.1f}x the work per joule on {other} as on "
                        f"{device} at {here.target_load:.0%} load; run it on {other}."
                    ),
                    evidence={
                        "workload": workload,
                        "target_load": here.target_load,
                        "units_per_j": _efficiency(here),
                        "other_device": other,
                        "other_units_per_j": _efficiency(there),
                        "ratio": ratio,
                        "provenance": provenances,
                    },
                    recommendation={"device": other},
                    confidence="low" if estimated else lowest([quality.tier(with_savings=False)]),
                    assumptions=tuple(notes),
                )
            )
    return found
