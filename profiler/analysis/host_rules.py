"""Host rules of docs/methodology.md#rules: IDLE_HOST, CPU and memory right-sizing.

Each rule takes the host's usage statistics (`usage.py`) and returns a `Finding` or
None. Busy cores = utilisation x logical cores (docs/design.md#run-interchange-format: busy
logical cores / logical cores). Thresholds and their sources are in `thresholds.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from profiler.analysis.confidence import Quality
from profiler.analysis.curve import PowerCurve, coverage_note
from profiler.analysis.demand import HotWindows
from profiler.analysis.savings import (
    DRAM_PROVENANCE,
    DRAM_W_PER_GB,
    consolidation_saving_w,
    dram_saving_w,
    savings_from_power,
)
from profiler.analysis.stats import nearest_rank
from profiler.analysis.thresholds import Thresholds, above, at_least, at_most, below
from profiler.analysis.usage import UsageStats
from profiler.model.findings import Finding
from profiler.model.savings import Estimate, Site
from profiler.model.units import DAY_S, GIB

PowerSource = Literal["ladder", "measured", "model"]


@dataclass(frozen=True)
class IdlePower:
    """The power an idle host would stop drawing, in watts, and where it comes from.

    Attributes:
        watts: point, low and high idle power in watts.
        source: "ladder" (active idle of a profiling run), "measured" (mean measured
            power over the window), or "model".
        label: one line naming the figure's origin.
    """

    watts: Estimate
    source: PowerSource
    label: str


def idle_host(
    host: UsageStats,
    gpu_activity: Mapping[str, float | None],
    idle_power: IdlePower | None,
    site: Site,
    quality: Quality,
    thresholds: Thresholds,
) -> Finding | None:
    """IDLE_HOST (Azure Advisor shutdown rule): power off a host that does nothing.

    Args:
        host: the host's usage statistics.
        gpu_activity: mean SM activity (else utilisation) of each GPU, 0..1.
        idle_power: what powering the host off saves, None when unknown.
        site: PUE, grid and tariff.
        quality: what the figures rest on.
        thresholds: rule thresholds.
    """
    p95 = nearest_rank(host.idle_util, 0.95)
    recent = host.recent_half_hour_max(thresholds.idle_host_recent_s, thresholds.idle_window_s)
    if p95 is None or recent is None:
        return None
    busy_gpus = {
        g: a
        for g, a in gpu_activity.items()
        if a is not None and at_least(a, thresholds.idle_host_gpu_activity)
    }
    if not below(p95, thresholds.idle_host_p95_util) or not at_most(
        recent, thresholds.idle_host_recent_max_util
    ):
        return None
    # A GPU whose activity is unknown (MIG hides utilisation; a failed sensor) may be busy:
    # unknown is never idle, so the host is not called idle either.
    unknown_gpus = [g for g, a in gpu_activity.items() if a is None]
    if busy_gpus or unknown_gpus:
        return None
    savings = savings_from_power(idle_power.watts, site) if idle_power else None
    saves = (
        f"; powering it off saves about {savings.it_kwh_per_year.point:,.0f} kWh/yr IT"
        if savings
        else ""
    )
    notes = ["idle test: 30-min windows of the max of 1-min mean CPU utilisation (Azure Advisor)"]
    if idle_power:
        notes.append(f"idle power {idle_power.watts.point:.1f} W: {idle_power.label}")
        notes.append("GPU power is counted in the GPU findings, not here")
    else:
        notes.append("no power figure for the host: savings not computed")
    return Finding(
        rule="IDLE_HOST",
        device=host.device_id,
        severity="warning",
        message=(
            f"{host.device_id} is idle: P95 of its 30-min peak CPU utilisation is "
            f"{p95:.1%} and no 30-min mean of the last 3 days exceeds {recent:.1%}; "
            f"shut it down or reclaim it{saves}."
        ),
        evidence={
            "p95_idle_test_util": p95,
            "max_recent_30min_mean_util": recent,
            "idle_test_windows": int(host.idle_util.size),
            "span_days": host.span_s / DAY_S,
            "idle_power_w": idle_power.watts.point if idle_power else None,
            "idle_power_source": idle_power.source if idle_power else None,
            "gpu_mean_activity": dict(gpu_activity),
        },
        recommendation={"action": "power off or reclaim"},
        savings=savings,
        confidence=quality.tier(with_savings=savings is not None),
        assumptions=(*quality.notes, *notes, *(site.assumptions() if savings else ())),
    )


def under_provisioned_cpu(
    host: UsageStats,
    cores: int,
    quality: Quality,
    thresholds: Thresholds,
    hot: HotWindows | None = None,
) -> Finding | None:
    """UNDER_PROVISIONED_CPU (AWS Compute Optimizer): P99.5 busy cores / 0.8 > cores.

    With `hot` (the recurring windows where the host runs at or above 80 %) short and
    regular, the finding names them and weighs moving their job or bursting for those
    hours against buying cores that would idle the rest of the week.
    """
    p995 = host.percentile(thresholds.under_cpu_quantile)
    if p995 is None:
        return None
    busy = p995 * cores
    needed = busy / (1.0 - thresholds.under_cpu_headroom)
    if needed <= cores:
        return None
    if hot is not None and hot.short_and_regular(thresholds):
        return _under_in_windows(host, cores, busy, needed, hot, quality)
    return Finding(
        rule="UNDER_PROVISIONED_CPU",
        device=host.device_id,
        severity="critical",
        message=(
            f"{host.device_id} runs hot: P99.5 of 5-min CPU use is {busy:.1f} of {cores} "
            f"cores, leaving under 20% headroom; add capacity or spread the load."
        ),
        evidence={
            "p99_5_busy_cores": busy,
            "needed_cores": needed,
            "provisioned_cores": cores,
            "headroom": thresholds.under_cpu_headroom,
            "windows": int(host.sizing_util.size),
        },
        recommendation={"min_cores": needed},
        savings=None,
        confidence=quality.tier(with_savings=False),
        assumptions=(*quality.notes, "5-min mean windows; nearest-rank percentiles"),
    )


def _under_in_windows(
    host: UsageStats,
    cores: int,
    busy: float,
    needed: float,
    hot: HotWindows,
    quality: Quality,
) -> Finding:
    """UNDER_PROVISIONED_CPU of a host hot only in short recurring windows."""
    extra = needed - cores
    hours = hot.hours_per_week
    windows = ", ".join(w.label for w in hot.windows)
    alternatives = [
        {"option": "move the windows' job onto shared or pooled capacity", "extra_cores": 0.0},
        {
            "option": "burst capacity for the windows only",
            "extra_core_hours_per_week": extra * hours,
        },
        {
            "option": "buy cores",
            "extra_core_hours_per_week": extra * 168.0,
            "use_of_bought_cores": hot.share,
        },
    ]
    return Finding(
        rule="UNDER_PROVISIONED_CPU",
        device=host.device_id,
        severity="critical",
        message=(
            f"{host.device_id} runs hot only in {windows} ({hours} h a week, in "
            f"{hot.regular_weeks} of {hot.n_weeks} weeks): P99.5 of 5-min CPU use is "
            f"{busy:.1f} of {cores} cores; move that job to shared capacity or burst "
            f"{extra:.1f} cores for those hours ({extra * hours:.0f} core-hours a week) "
            f"rather than buy cores that would idle {1.0 - hot.share:.0%} of the week."
        ),
        evidence={
            "p99_5_busy_cores": busy,
            "needed_cores": needed,
            "provisioned_cores": cores,
            "windows": int(host.sizing_util.size),
            "hot_windows": [w.as_dict() for w in hot.windows],
            "hot_share_of_week": hot.share,
            "hot_regular_weeks": hot.regular_weeks,
            "observed_weeks": hot.n_weeks,
        },
        recommendation={"min_cores": needed, "in_windows_only": True, "alternatives": alternatives},
        savings=None,
        confidence=quality.tier(with_savings=False),
        assumptions=(
            *quality.notes,
            "5-min mean windows; nearest-rank percentiles",
            f"hot hour: a 5-min mean at or above {hot.level:.0%} (20% headroom) in local time",
        ),
    )


def recommended_size(needed: float, sizes: tuple[int, ...]) -> int | None:
    """Return the smallest catalogue size >= needed, None when none is large enough."""
    fitting = [s for s in sorted(sizes) if s >= needed - 1e-9]
    return fitting[0] if fitting else None


def over_provisioned_cpu(
    host: UsageStats,
    cores: int,
    curves: tuple[PowerCurve, PowerCurve, PowerCurve] | None,
    site: Site,
    quality: Quality,
    thresholds: Thresholds,
) -> Finding | None:
    """OVER_PROVISIONED_CPU (AWS; Kubecost targets): recommend a catalogue size.

    needed = P95 busy cores / 0.65 (production) or P99.5 / 0.8 (conservative); flag when
    the smallest size >= needed is at most half the provisioned cores. Savings: moving
    the host's work onto R/C of its cores on the host power curve (docs/methodology.md#savings:
    consolidation with N = 1, M = R/C); low and high use Kubecost's 0.50 and 0.80
    targets and, for a model curve, its low and high curves (the linear model's idle
    ratios 0.14 and 0.23, or the SPECpower curve's band).
    """
    q, target = thresholds.over_cpu_quantile, thresholds.over_cpu_target
    quantile = host.percentile(q)
    if quantile is None or host.util_mean is None:
        return None
    busy = quantile * cores
    needed = busy / target
    size = recommended_size(needed, thresholds.cpu_sizes)
    if size is None or above(size, thresholds.over_cpu_flag_ratio * cores):
        return None
    savings = None
    if curves is not None:
        point_curve, low_curve, high_curve = curves

        def saved(curve: PowerCurve, target_util: float) -> float:
            r = recommended_size(busy / target_util, thresholds.cpu_sizes) or cores
            r = min(r, cores)
            return consolidation_saving_w(curve, 1.0, r / cores, host.util_mean or 0.0)

        watts = Estimate(
            saved(point_curve, target),
            saved(low_curve, thresholds.cpu_target_low),
            saved(high_curve, thresholds.cpu_target_high),
        )
        savings = savings_from_power(watts, site)
    label = f"P{q * 100:g}"
    notes = [
        f"{thresholds.mode} mode: needed = {label} busy cores / {target:g} target utilisation",
        "5-min mean windows; nearest-rank percentiles",
        f"size catalogue {', '.join(str(s) for s in sorted(thresholds.cpu_sizes))} cores",
    ]
    if curves is not None:
        notes.append(f"host power curve: {curves[0].label}")
        notes.append(coverage_note(curves[0]))
    else:
        notes.append("no host power curve (no ladder, no CPU power limit): savings not computed")
    return Finding(
        rule="OVER_PROVISIONED_CPU",
        device=host.device_id,
        severity="warning",
        message=(
            f"{host.device_id} uses {busy:.1f} of {cores} cores at {label} ({thresholds.mode} "
            f"mode); {size} cores would serve it at {target:.0%} target utilisation."
        ),
        evidence={
            f"p{q * 100:g}_busy_cores".replace(".", "_"): busy,
            "needed_cores": needed,
            "provisioned_cores": cores,
            "mean_util": host.util_mean,
            "windows": int(host.sizing_util.size),
            "mode": thresholds.mode,
        },
        recommendation={"cores": size},
        savings=savings,
        confidence=quality.tier(with_savings=savings is not None),
        assumptions=(*quality.notes, *notes, *(site.assumptions() if savings else ())),
    )


def over_provisioned_mem(
    host: UsageStats,
    installed_bytes: int,
    quality: Quality,
    thresholds: Thresholds,
    site: Site | None = None,
) -> Finding | None:
    """OVER_PROVISIONED_MEM (Kubernetes VPA margin): installed >= 2 x next size >= needed.

    needed = max of the daily peaks of memory used x 1.15, over at least 8 days. With a
    `site`, savings are the labelled estimate `estimated:dram-per-gb`: the DRAM no longer
    installed (installed - recommended) x published per-GB power (`DRAM_W_PER_GB`), at
    confidence low whatever the history (memory power is never measured here).
    """
    peaks = host.daily_mem_peaks_bytes
    if peaks.size < thresholds.mem_min_days or host.span_s < thresholds.mem_min_days * DAY_S:
        return None
    needed = float(peaks.max()) * thresholds.mem_margin
    fitting = [s for s in sorted(thresholds.mem_sizes_bytes) if s >= needed]
    if not fitting or below(installed_bytes, thresholds.mem_flag_ratio * fitting[0]):
        return None
    size = fitting[0]
    freed_gib = (installed_bytes - size) / GIB
    savings = None
    if site is None:
        confidence = quality.tier(with_savings=False)
        notes = ["memory power is not modelled: no energy savings claimed"]
    else:
        savings = savings_from_power(dram_saving_w(freed_gib), site)
        # a per-GB coefficient is a model, never a measurement: tier low
        confidence = dataclasses.replace(quality, power="low").tier(with_savings=True)
        w = DRAM_W_PER_GB
        notes = [
            f"savings {DRAM_PROVENANCE}: {freed_gib:.0f} GiB removed x {w.point:g} W/GB "
            f"(Cloud Carbon Footprint); low {w.low:g} W/GB (Green Algorithms), high "
            f"{w.high:g} W/GB (CodeCarbon's 5 W per DIMM, 8 GB DIMMs); docs/analyzer.md",
            "savings assume the removed modules draw their power all year (idle DRAM still "
            "refreshes); no memory power was measured",
            *site.assumptions(),
        ]
    return Finding(
        rule="OVER_PROVISIONED_MEM",
        device=host.device_id,
        severity="warning",
        message=(
            f"{host.device_id} has {installed_bytes / GIB:.0f} GiB of memory but its daily "
            f"peak is {peaks.max() / GIB:.1f} GiB; {size / GIB:.0f} GiB would do with a 15% "
            f"margin."
        ),
        evidence={
            "max_daily_peak_bytes": float(peaks.max()),
            "needed_bytes": needed,
            "installed_bytes": installed_bytes,
            "days": int(peaks.size),
        },
        recommendation={"mem_bytes": size},
        savings=savings,
        confidence=confidence,
        assumptions=(
            *quality.notes,
            "needed = max daily peak x 1.15 (Kubernetes VPA margin)",
            *notes,
        ),
    )
