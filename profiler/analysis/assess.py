"""Run every rule over a usage window or a profiling run; apply precedence; rank.

Two entry points, both pure:

- `assess_usage`: monitoring data (one run, or several runs on one axis) of one host:
  eligibility, then IDLE_HOST, CPU/memory right-sizing and the GPU rules, or
  INSUFFICIENT_DATA with indicative observations (`insufficient.py`); LOW_EFFICIENCY_HOST
  where a measured ladder of this host is given; with the site's clock, the findings
  that see time (`time_rules.py`).
- `assess_profile`: a profiling run's phases: POOR_PROPORTIONALITY, BETTER_PLACEMENT and
  LOW_EFFICIENCY_HOST (given an observed utilisation). Profiling runs never produce idle
  or right-sizing findings (docs/methodology.md#usage-statistics).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from profiler.analysis.confidence import Quality, curve_tier, history_tier, power_tier
from profiler.analysis.curve import PowerCurve, ladder_curve, model_curves
from profiler.analysis.demand import HotWindows
from profiler.analysis.findings import apply_precedence, ranked
from profiler.analysis.gpu_rules import gpu_findings
from profiler.analysis.host_rules import (
    IdlePower,
    idle_host,
    over_provisioned_cpu,
    over_provisioned_mem,
    under_provisioned_cpu,
)
from profiler.analysis.insufficient import indicative, insufficient
from profiler.analysis.ladder_data import LadderData, data_quality, data_quality_finding
from profiler.analysis.ladder_rules import (
    better_placement,
    low_efficiency_host,
    poor_proportionality,
)
from profiler.analysis.profile import LadderSummary, summarise_ladders
from profiler.analysis.reconcile import reconcile, wall_idle_power
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.time_rules import LocalClock, WindowDevices, host_hot_windows, time_findings
from profiler.analysis.usage import UsageStats, usage_stats
from profiler.model.findings import Finding
from profiler.model.hold import HOLD_INTERVALS
from profiler.model.provenance import is_estimate
from profiler.model.run import PhaseRecord
from profiler.model.savings import Estimate, Site
from profiler.model.series import DeviceSeries

DEFAULTS = Thresholds()


@dataclass(frozen=True)
class Assessment:
    """Ranked findings, the figures behind them, and every assumption made.

    Attributes:
        findings: after precedence, ranked by facility kWh saved.
        metrics: per device (and per workload) figures for `finwatt analyze --json`.
        assumptions: the union of the findings' and the site's assumption lines.
    """

    findings: list[Finding]
    metrics: dict[str, Any]
    assumptions: list[str]

    def as_dict(self, run: str | None) -> dict[str, Any]:
        """Return the JSON shape of docs/design.md#findings."""
        return {
            "run": run,
            "findings": [f.as_dict() for f in self.findings],
            "metrics": self.metrics,
        }


def conclude(findings: list[Finding], metrics: dict[str, Any], site: Site) -> Assessment:
    """Apply precedence, rank, and collect every assumption line once (site lines last).

    Adds the site's assumption lines to `metrics` as `site`.
    """
    kept = ranked(apply_precedence(findings))
    metrics["site"] = site.assumptions()
    lines: list[str] = []
    for line in [*(a for f in kept for a in f.assumptions), *site.assumptions()]:
        if line not in lines:
            lines.append(line)
    return Assessment(kept, metrics, lines)


def mean_power_w(series: DeviceSeries) -> float | None:
    """Return the device's mean power in watts: energy over the time it covers."""
    delta = series.energy_delta_j
    known = ~np.isnan(delta)
    seconds = float(series.interval_s[known].sum())
    return float(delta[known].sum()) / seconds if seconds > 0 else None


def energy_coverage(series: DeviceSeries) -> float | None:
    """Return the share of the series' span its energy figures cover (None without any).

    Span: first to last sample plus one typical interval; covered: the seconds behind
    each known energy figure (a counter delta, or a power reading held at most
    `HOLD_INTERVALS` intervals).
    """
    known = ~np.isnan(series.energy_delta_j)
    if series.n < 2 or not known.any():
        return None
    step = float(np.median(np.diff(series.t)))
    span_s = float(series.t[-1] - series.t[0]) + step
    covered_s = float(series.interval_s[known][1:].sum()) + step  # first: since run start
    return min(1.0, covered_s / span_s) if span_s > 0 else None


def energy_j(series: DeviceSeries) -> float | None:
    """Return the device's energy in joules over the window (None without any)."""
    delta = series.energy_delta_j
    return None if np.isnan(delta).all() else float(np.nansum(delta))


def _host_subject(series: Sequence[DeviceSeries]) -> DeviceSeries | None:
    def has_util(s: DeviceSeries) -> bool:
        return bool(s.n and not np.isnan(s.util).all())

    hosts = [s for s in series if s.spec.kind == "host" and has_util(s)]
    if hosts:
        return hosts[0]
    cpus = [s for s in series if s.spec.kind == "cpu" and has_util(s)]
    return cpus[0] if len(cpus) == 1 else None


def _idle_power(
    power_devices: Sequence[DeviceSeries], ladder: PowerCurve | None, thresholds: Thresholds
) -> IdlePower | None:
    if ladder is not None and not ladder.estimated:
        w = ladder.idle_w
        return IdlePower(Estimate(w, w, w), "ladder", f"active idle of {ladder.label}")
    if not power_devices:
        return None
    means = [mean_power_w(s) for s in power_devices]
    if all(s.spec.measured for s in power_devices) and all(m is not None for m in means):
        w = sum(m for m in means if m is not None)
        ids = ", ".join(s.spec.device_id for s in power_devices)
        return IdlePower(Estimate(w, w, w), "measured", f"mean measured power of {ids}")
    curves = model_curves([s.spec for s in power_devices], thresholds)
    if curves is None:
        return None
    point, low, high = (c.idle_w for c in curves)
    return IdlePower(Estimate(point, low, high), "model", curves[0].label)


def _device_metrics(series: DeviceSeries, usage: UsageStats, th: Thresholds) -> dict[str, Any]:
    return {
        "kind": series.spec.kind,
        "provenance": series.spec.provenance,
        "estimated": series.spec.estimated,
        "samples": usage.samples,
        "span_s": usage.span_s,
        "valid_hours": usage.valid_hours,
        "coverage": usage.coverage,
        "eligible": usage.eligible(th),
        "util_mean": usage.util_mean,
        "util_p95": usage.percentile(0.95),
        "sm_active_mean": usage.sm_mean,
        "mem_max_bytes": usage.mem_max_bytes,
        "energy_j": energy_j(series),
        "mean_power_w": mean_power_w(series),
    }


def _eligibility_notes(th: Thresholds) -> tuple[str, ...]:
    if th.min_span_s >= DEFAULTS.min_span_s and th.min_valid_hours >= DEFAULTS.min_valid_hours:
        return ()
    return (
        f"eligibility lowered to {th.min_span_s:g} s span and {th.min_valid_hours:g} h of "
        f"data (methodology: 7 days and 30 h): findings are indicative",
    )


def _keep(findings: list[Finding], *maybe: Finding | None) -> None:
    """Append the findings that fired (a rule returns None when it does not)."""
    findings.extend(f for f in maybe if f is not None)


@dataclass(frozen=True)
class _Window:
    """What every rule over one host's window shares.

    Attributes:
        origin: the window's first sample time, for minute bins.
        usage: device id -> usage statistics.
        power_devices: CPU package and DRAM devices with power figures.
        notes: assumption lines every finding of the window carries.
        wall: the server's measured wall power less its GPUs', where a `node` device
            measured it: host-level savings use it first (docs/decisions.md#audit-trail).
    """

    origin: float
    usage: dict[str, UsageStats]
    power_devices: list[DeviceSeries]
    notes: tuple[str, ...]
    wall: IdlePower | None = None


def _ladder_curve(ladder: LadderSummary | None) -> PowerCurve | None:
    if ladder is None or not ladder.metrics:
        return None
    return ladder_curve(
        ladder.metrics,
        f"{ladder.workload} ladder on {ladder.device}",
        estimated=is_estimate(ladder.provenance),
    )


def _rightsizing_findings(
    host: DeviceSeries,
    stats: UsageStats,
    window: _Window,
    curve: PowerCurve | None,
    host_quality: Quality,
    site: Site,
    thresholds: Thresholds,
    hot: HotWindows | None = None,
) -> list[Finding]:
    """CPU (under, over) and memory right-sizing of an eligible host (`hot`: its hot windows)."""
    findings: list[Finding] = []
    usage_only = dataclasses.replace(host_quality, power=None)
    cores = host.spec.logical_cores
    if cores:
        curves = (
            (curve, curve, curve)
            if curve and not curve.estimated
            else model_curves([s.spec for s in window.power_devices], thresholds)
        )
        cpu_quality = Quality(
            power=host_quality.power,
            curve=curve_tier(curves[0] if curves else None),
            history=host_quality.history,
            site_defaulted=site.defaulted,
            notes=window.notes,
        )
        _keep(
            findings,
            under_provisioned_cpu(stats, cores, usage_only, thresholds, hot),
            over_provisioned_cpu(stats, cores, curves, site, cpu_quality, thresholds),
        )
    if host.spec.mem_total_bytes:
        _keep(
            findings,
            over_provisioned_mem(stats, host.spec.mem_total_bytes, usage_only, thresholds, site),
        )
    return findings


def _host_findings(
    host: DeviceSeries,
    gpus: Sequence[DeviceSeries],
    window: _Window,
    ladder: LadderSummary | None,
    site: Site,
    thresholds: Thresholds,
    hot: HotWindows | None = None,
) -> list[Finding]:
    """INSUFFICIENT_DATA, or IDLE_HOST and right-sizing; LOW_EFFICIENCY_HOST with a ladder."""
    stats = window.usage[host.spec.device_id]
    host_quality = Quality(
        power=power_tier(s.spec.provenance for s in window.power_devices),
        history=history_tier(stats, thresholds),
        site_defaulted=site.defaulted,
        notes=window.notes,
    )
    findings: list[Finding] = []
    if not stats.eligible(thresholds):
        idle_util = thresholds.indicative_cpu_idle_util
        share, idle_j = indicative(host, window.power_devices, window.origin, idle_util, thresholds)
        findings.append(insufficient(stats, share, idle_j, window.notes, thresholds))
    else:
        activity = {}
        for g in gpus:
            gpu_stats = window.usage[g.spec.device_id]
            sm_mean = gpu_stats.sm_mean
            activity[g.spec.device_id] = sm_mean if sm_mean is not None else gpu_stats.util_mean
        curve = _ladder_curve(ladder)
        idle_power = window.wall or _idle_power(window.power_devices, curve, thresholds)
        _keep(findings, idle_host(stats, activity, idle_power, site, host_quality, thresholds))
        findings.extend(
            _rightsizing_findings(host, stats, window, curve, host_quality, site, thresholds, hot)
        )
    if ladder is not None:
        _keep(findings, low_efficiency_host(ladder, stats.util_mean, thresholds))
    return findings


def _gpu_findings(
    gpu: DeviceSeries, window: _Window, site: Site, thresholds: Thresholds
) -> list[Finding]:
    """The GPU rules of an eligible GPU, else INSUFFICIENT_DATA with indicative figures."""
    stats = window.usage[gpu.spec.device_id]
    if not stats.eligible(thresholds):
        share, idle_j = indicative(
            gpu, [gpu], window.origin, thresholds.indicative_gpu_idle_util, thresholds
        )
        return [insufficient(stats, share, idle_j, window.notes, thresholds)]
    quality = Quality(
        power=power_tier([gpu.spec.provenance]),
        history=history_tier(stats, thresholds),
        site_defaulted=site.defaulted,
        gpu_util_fallback=stats.sm_mean is None,
        notes=window.notes,
    )
    return gpu_findings(stats, mean_power_w(gpu), site, quality, thresholds)


def assess_usage(
    series: Sequence[DeviceSeries],
    site: Site,
    thresholds: Thresholds = DEFAULTS,
    *,
    ladder: LadderSummary | None = None,
    clock: LocalClock | None = None,
) -> Assessment:
    """Assess one host's monitoring window.

    Args:
        series: every device of the host, on one time axis.
        site: PUE, grid intensity and tariff.
        thresholds: rule thresholds and eligibility limits.
        ladder: a CPU load ladder measured on this host (its power curve), if any.
        clock: the site's wall clock; with it also the findings that see time
            (`time_rules`: PEAK_SIZED_HOST, OFF_HOURS_IDLE, PEAK_SIZED_GPU, and the hot
            windows of UNDER_PROVISIONED_CPU).
    """
    present = [s for s in series if s.n]
    origin = min((float(s.t[0]) for s in present), default=0.0)
    usage = {s.spec.device_id: usage_stats(s, origin, thresholds) for s in present}
    metrics: dict[str, Any] = {
        "devices": {
            s.spec.device_id: _device_metrics(s, usage[s.spec.device_id], thresholds)
            for s in present
        },
    }
    coverage = {s.spec.device_id: energy_coverage(s) for s in present}
    metrics["data_quality"] = {
        "energy_coverage": {k: v for k, v in coverage.items() if v is not None},
        "hold_intervals": HOLD_INTERVALS,
    }
    notes = (
        _eligibility_notes(thresholds)
        + tuple(
            f"{s.spec.device_id} power is {s.spec.provenance}: a model, not a measurement"
            for s in present
            if s.spec.estimated
        )
        + tuple(
            f"{device} energy covers {share:.0%} of the window (gaps: a reading stands "
            f"for at most {HOLD_INTERVALS:g} sample intervals); mean power is over the "
            f"covered time"
            for device, share in coverage.items()
            if share is not None and share < thresholds.high_history_coverage
        )
    )
    power_devices = [s for s in present if s.spec.kind in ("cpu", "dram") and s.spec.provenance]
    window = _Window(origin, usage, power_devices, notes, wall_idle_power(present))
    balance = reconcile(present)
    if balance is not None:
        metrics["reconciliation"] = balance.as_dict()
    gpus = [s for s in present if s.spec.kind == "gpu"]
    findings: list[Finding] = []
    host = _host_subject(present)
    if host is not None:
        hot = host_hot_windows(host, clock, thresholds) if clock else None
        findings.extend(_host_findings(host, gpus, window, ladder, site, thresholds, hot))
    for gpu in gpus:
        findings.extend(_gpu_findings(gpu, window, site, thresholds))
    if clock is not None:
        fallback = _idle_power(window.power_devices, _ladder_curve(ladder), thresholds)
        devices = WindowDevices(host, gpus, window.power_devices, usage, notes)
        findings.extend(time_findings(devices, clock, fallback, site, thresholds))
    if ladder is not None:
        metrics["workloads"] = [ladder.as_dict()]
    return conclude(findings, metrics, site)


def assess_profile(
    phases: Sequence[PhaseRecord],
    site: Site,
    thresholds: Thresholds = DEFAULTS,
    *,
    observed_util: float | None = None,
    ladder_data: LadderData | None = None,
) -> Assessment:
    """Assess a profiling run from its phases (with their energy figures).

    Args:
        phases: the run's phases, `details` carrying units_per_s, mean_power_w, units_per_j
            and provenance (`phases.phase_metrics`).
        site: PUE, grid intensity and tariff (for the assumption lines).
        thresholds: rule thresholds.
        observed_util: this host's observed mean CPU utilisation, for LOW_EFFICIENCY_HOST.
        ladder_data: the phases evaluated from the samples (`ladder_data.phases_from_data`);
            when given, its phases are assessed instead of `phases` and its data-quality
            figures are added (`metrics.data_quality`, STATED_FIGURES_DISAGREE).
    """
    if ladder_data is not None:
        phases = ladder_data.phases
    summaries = summarise_ladders(phases)
    findings: list[Finding] = []
    if ladder_data is not None:
        _keep(findings, data_quality_finding(ladder_data))
    for summary in summaries:
        _keep(
            findings,
            poor_proportionality(summary, thresholds),
            low_efficiency_host(summary, observed_util, thresholds),
        )
    findings.extend(better_placement(phases, thresholds))
    metrics = {
        "workloads": [
            {**s.as_dict(), "units_per_joule": s.metrics.overall_units_per_j if s.metrics else None}
            for s in summaries
        ],
        "phases": len(phases),
        "observed_util": observed_util,
    }
    if ladder_data is not None:
        metrics["data_quality"] = data_quality(ladder_data)
    return conclude(findings, metrics, site)
