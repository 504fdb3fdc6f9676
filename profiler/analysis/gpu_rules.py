"""GPU rules of docs/methodology.md#rules (Princeton jobstats, NVIDIA DCGM guidance).

- IDLE_GPU: max utilisation 0, mean SM activity < 1% (where available), max memory
  used < 1 GiB. ALLOCATED_IDLE_GPU: the same with >= 1 GiB held (a process holds the
  GPU and does nothing). Savings: the GPU's mean power x 8,760 h, its attributable idle
  energy (it was idle the whole window).
- UNDERUSED_GPU: mean utilisation <= 15%, or mean SM activity < 0.5 where available.
- MIG_OR_SHARE_CANDIDATE: mean SM activity (else utilisation) < 15% and max memory
  used < 10 GiB.
"""

from __future__ import annotations

from profiler.analysis.confidence import Quality
from profiler.analysis.savings import savings_from_power
from profiler.analysis.thresholds import Thresholds, at_most, below
from profiler.analysis.usage import UsageStats
from profiler.model.findings import Finding
from profiler.model.savings import Estimate, Site
from profiler.model.units import DAY_S, GIB


def gpu_findings(
    usage: UsageStats,
    mean_power_w: float | None,
    site: Site,
    quality: Quality,
    thresholds: Thresholds,
) -> list[Finding]:
    """Return the GPU rules that fire for one GPU (precedence is applied later)."""
    if usage.util_max is None:
        return []
    sm = usage.sm_mean
    mem = usage.mem_max_bytes
    evidence = {
        "max_util": usage.util_max,
        "mean_util": usage.util_mean,
        "mean_sm_active": sm,
        "max_mem_used_bytes": mem,
        "mean_power_w": mean_power_w,
        "span_days": usage.span_s / DAY_S,
    }
    notes = list(quality.notes)
    if sm is None:
        notes.append("SM activity not available: GPU utilisation used instead")
    found: list[Finding] = []
    idle = usage.util_max <= 0.0 and (sm is None or below(sm, thresholds.gpu_idle_sm))
    if idle and mem is not None:
        found.append(_idle(usage, mem, mean_power_w, evidence, notes, site, quality, thresholds))
    activity = sm if sm is not None else usage.util_mean
    underused = (
        usage.util_mean is not None and at_most(usage.util_mean, thresholds.gpu_underused_util)
    ) or (sm is not None and below(sm, thresholds.gpu_underused_sm))
    if underused:
        found.append(
            Finding(
                rule="UNDERUSED_GPU",
                device=usage.device_id,
                severity="info",
                message=(
                    f"{usage.device_id} is underused: mean utilisation "
                    f"{_pct(usage.util_mean)}, mean SM activity {_pct(sm)}; batch more work "
                    f"onto it or move the job to a smaller GPU."
                ),
                evidence=evidence,
                confidence=quality.tier(with_savings=False),
                assumptions=tuple(notes),
            )
        )
    if (
        activity is not None
        and below(activity, thresholds.gpu_share_activity)
        and mem is not None
        and mem < thresholds.gpu_share_mem_bytes
    ):
        found.append(
            Finding(
                rule="MIG_OR_SHARE_CANDIDATE",
                device=usage.device_id,
                severity="info",
                message=(
                    f"{usage.device_id} does little ({_pct(activity)} mean activity) in "
                    f"{mem / GIB:.1f} GiB at most: a MIG slice or a shared GPU would serve it."
                ),
                evidence=evidence,
                recommendation={"action": "MIG slice or GPU sharing", "mem_bytes": mem},
                confidence=quality.tier(with_savings=False),
                assumptions=tuple(notes),
            )
        )
    return found


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _idle(
    usage: UsageStats,
    mem: float,
    mean_power_w: float | None,
    evidence: dict[str, float | None],
    notes: list[str],
    site: Site,
    quality: Quality,
    thresholds: Thresholds,
) -> Finding:
    allocated = mem >= thresholds.gpu_idle_mem_bytes
    savings = (
        savings_from_power(Estimate(mean_power_w, mean_power_w, mean_power_w), site)
        if mean_power_w is not None
        else None
    )
    saves = f" ({savings.it_kwh_per_year.point:,.1f} kWh/yr IT)" if savings else ""
    if allocated:
        rule = "ALLOCATED_IDLE_GPU"
        message = (
            f"{usage.device_id} is held but idle: {mem / GIB:.1f} GiB allocated, no "
            f"utilisation in {usage.span_s / DAY_S:.1f} days; find and stop the process "
            f"holding it{saves}."
        )
        action = "stop the process holding the GPU, then release it"
    else:
        rule = "IDLE_GPU"
        message = (
            f"{usage.device_id} is idle: no utilisation and under 1 GiB used in "
            f"{usage.span_s / DAY_S:.1f} days; release it to the pool or power it "
            f"down{saves}."
        )
        action = "release or power down"
    extra = ["idle energy: the GPU's mean power over a window in which it was idle throughout"]
    if savings is None:
        extra.append("no power figure for the GPU: savings not computed")
    return Finding(
        rule=rule,
        device=usage.device_id,
        severity="warning",
        message=message,
        evidence=evidence,
        recommendation={"action": action},
        savings=savings,
        confidence=quality.tier(with_savings=savings is not None),
        assumptions=(*notes, *extra, *(site.assumptions() if savings else ())),
    )
