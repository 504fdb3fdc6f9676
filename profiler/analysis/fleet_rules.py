"""Fleet rules over many hosts' usage (`finwatt analyze --prometheus`); pure.

- `CONSOLIDATE_HOSTS`: N similar hosts (same provisioned cores and CPU model) whose
  combined load fits on M < N of them, M = max(min_hosts, ceil(N x P95_u / target))
  (docs/methodology.md#savings), saving N.P(u) - M.P(N.u/M) on the host power curve. Three
  steps: group similar hosts (`similar_groups`), size M (`size_consolidation`), build the
  finding.
- `FLEET_IDLE_ENERGY`: the energy the fleet drew while its hosts were idle, annualised:
  an observation (savings null; powering idle hosts off is `IDLE_HOST`'s saving).

`assess_fleet` assesses each host with the same `assess_usage` as a local window, then
adds these findings. The input is one `HostData` per host; `profiler.prometheus.query`
builds them from Prometheus.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from profiler.analysis.annual import device_totals
from profiler.analysis.assess import Assessment, assess_usage, conclude
from profiler.analysis.confidence import Quality, curve_tier, power_tier
from profiler.analysis.curve import PowerCurve, coverage_note, model_curves
from profiler.analysis.profile import LadderSummary
from profiler.analysis.savings import consolidated_hosts, consolidation_saving_w, savings_from_power
from profiler.analysis.stats import nearest_rank
from profiler.analysis.thresholds import Thresholds
from profiler.model.annual import rate_kwh_per_year
from profiler.model.device import DeviceInfo
from profiler.model.findings import Finding
from profiler.model.savings import Estimate, Site
from profiler.model.series import DeviceSeries, FloatArray
from profiler.model.units import J_PER_KWH

SELF_ACTING_RULES = frozenset(
    {"IDLE_HOST", "OVER_PROVISIONED_CPU", "UNDER_PROVISIONED_CPU", "INSUFFICIENT_DATA"}
)
"""Host rules whose own finding already acts on a host: it is not also consolidated."""


@dataclass(frozen=True)
class HostData:
    """One host's devices as the analyzer sees them.

    Attributes:
        instance: the host's name (Prometheus's `instance` label).
        series: every device, device ids prefixed `instance/`.
        model: the host's CPU model, None when not known.
        cores: the host's logical cores, None when not known.
        devices: every device's static facts, also of a host whose series were not read.
        screened: the screening figures of a host found clear in Prometheus (its series
            were not read; no usage rule can fire on it), None for a host read in full.
        curve: the host's measured power curve (its latest valid profiling run, as the
            exporter publishes it), None when it has none.
        ladder: the same curve as a ladder summary, for LOW_EFFICIENCY_HOST and IDLE_HOST.

    """

    instance: str
    series: list[DeviceSeries]
    model: str | None
    cores: int | None
    devices: tuple[DeviceInfo, ...] = ()
    screened: Mapping[str, float | None] | None = None
    curve: PowerCurve | None = field(default=None, compare=False)
    ladder: LadderSummary | None = field(default=None, compare=False)


GroupUtil = Callable[[Sequence[HostData]], FloatArray]
"""The group's mean host utilisation per step: `group_util` here, or PromQL's `avg`."""


@dataclass(frozen=True)
class FleetAssessment:
    """Every host's assessment and the fleet's.

    Attributes:
        fleet: all findings (per host and fleet) after precedence, ranked; `metrics` are
            the fleet figures (groups, idle energy); the assumption lines, once each.
        hosts: instance -> that host's own assessment.

    """

    fleet: Assessment
    hosts: dict[str, Assessment]


@dataclass(frozen=True)
class Sizing:
    """How many of N similar hosts would carry their combined load, and what that saves.

    Attributes:
        hosts: N, the hosts in the group.
        onto: M, the hosts that would carry the load.
        demand_util: the quantile (P95; P99.5 conservative) of the group's mean
            utilisation per step.
        mean_util: the group's mean utilisation.
        curves: (point, low, high) model power curves of one host's CPU packages, None
            without a power limit (or when nothing can be freed).
        saving_w: N.P(u) - M.P(N.u/M) in watts on those curves, None without curves.

    """

    hosts: int
    onto: int
    demand_util: float
    mean_util: float
    curves: tuple[PowerCurve, PowerCurve, PowerCurve] | None
    saving_w: Estimate | None


def host_device(host: HostData) -> DeviceSeries | None:
    """Return the host's whole-machine `host` device, None when it has none."""
    return next((s for s in host.series if s.spec.kind == "host"), None)


def power_devices(host: HostData) -> list[DeviceSeries]:
    """Return the host's CPU package and DRAM devices that have power figures."""
    return [s for s in host.series if s.spec.kind in ("cpu", "dram") and s.spec.provenance]


def power_specs(host: HostData) -> list[DeviceInfo]:
    """Return the static facts of the host's CPU/DRAM power devices (read or screened)."""
    specs = host.devices or tuple(s.spec for s in host.series)
    return [d for d in specs if d.kind in ("cpu", "dram") and d.provenance]


def _has_util(host: HostData) -> bool:
    return host.screened is not None or host_device(host) is not None


def similar_groups(
    hosts: Sequence[HostData], acting: Mapping[str, set[str]]
) -> list[list[HostData]]:
    """Group hosts by (cores, CPU model); keep groups of two or more.

    A host without cores, without a `host` device, or with a self-acting finding of its
    own (`acting[instance]` not empty) is left out.
    """
    groups: dict[tuple[int | None, str | None], list[HostData]] = {}
    for host in hosts:
        if host.cores and _has_util(host) and not acting[host.instance]:
            groups.setdefault((host.cores, host.model), []).append(host)
    return [group for group in groups.values() if len(group) >= 2]


def group_util(group: Sequence[HostData]) -> FloatArray:
    """Return the group's mean host utilisation per step (NaN where no host reported)."""
    subjects = [s for h in group if (s := host_device(h)) is not None]
    times = np.unique(np.concatenate([s.t for s in subjects]))
    stacked = np.full((len(subjects), times.size), np.nan)
    for row, s in enumerate(subjects):
        stacked[row, np.searchsorted(times, s.t)] = s.util
    counted = (~np.isnan(stacked)).sum(axis=0)
    mean: FloatArray = np.where(
        counted > 0, np.nansum(stacked, axis=0) / np.maximum(counted, 1), np.nan
    )
    return mean


def size_consolidation(
    group: Sequence[HostData],
    demand_util: float,
    mean_util: float,
    thresholds: Thresholds,
    min_hosts: int,
) -> Sizing:
    """Return M for the group and, when M < N, the power saved on the hosts' model curve.

    The curve is a host's measured power curve where one in the group has one (the
    exporter's `finwatt_power_curve_watts`; low and high then differ by target only),
    else the linear model of its CPU packages. Low and high use Kubecost's 0.50 and 0.80
    targets and the model's low and high curves (idle ratios 0.14 and 0.23, or the
    SPECpower curve's band).
    """
    n = len(group)
    m = consolidated_hosts(n, demand_util, thresholds.over_cpu_target, min_hosts)
    if m >= n:
        return Sizing(n, m, demand_util, mean_util, None, None)
    measured = next((h.curve for h in group if h.curve is not None), None)
    curves = (
        (measured, measured, measured)
        if measured is not None
        else model_curves(power_specs(group[0]), thresholds)
    )
    if curves is None:
        return Sizing(n, m, demand_util, mean_util, None, None)
    point, low, high = curves

    def saved(curve: PowerCurve, target_util: float) -> float:
        hosts_after = min(n, consolidated_hosts(n, demand_util, target_util, min_hosts))
        return consolidation_saving_w(curve, n, hosts_after, mean_util)

    watts = Estimate(
        saved(point, thresholds.over_cpu_target),
        saved(low, thresholds.cpu_target_low),
        saved(high, thresholds.cpu_target_high),
    )
    return Sizing(n, m, demand_util, mean_util, curves, watts)


def _consolidation_notes(
    group: Sequence[HostData], sizing: Sizing, thresholds: Thresholds, min_hosts: int
) -> list[str]:
    label = f"P{thresholds.over_cpu_quantile * 100:g}"
    notes = [
        f"similar hosts: same provisioned cores ({group[0].cores}) and CPU model "
        f"({group[0].model or 'unknown'})",
        f"M = max({min_hosts}, ceil(N x {label} of the group's mean utilisation / "
        f"{thresholds.over_cpu_target:g})) (methodology section 6); at least "
        f"{min_hosts} hosts kept for redundancy",
        "hosts with their own IDLE_HOST or CPU right-sizing finding are not counted here",
        "resolution: Prometheus query_range means per step",
    ]
    if sizing.curves is not None and sizing.curves[0].source == "ladder":
        notes.append(f"host power curve: measured, {sizing.curves[0].label}")
        notes.append("savings on the measured curve; low and high vary the target only")
    elif sizing.curves is not None:
        notes.append(f"host power curve: {sizing.curves[0].label} (no measured curve)")
        notes.append(coverage_note(sizing.curves[0]))
    else:
        notes.append("no host power curve (no CPU power limit exported): savings not computed")
    return notes


def consolidation_finding(
    group: Sequence[HostData],
    sizing: Sizing,
    site: Site,
    thresholds: Thresholds,
    min_hosts: int,
) -> Finding:
    """Return the CONSOLIDATE_HOSTS finding of a group that fits on fewer hosts."""
    names = [h.instance for h in group]
    q, target = thresholds.over_cpu_quantile, thresholds.over_cpu_target
    n, m, pq = sizing.hosts, sizing.onto, sizing.demand_util
    savings = savings_from_power(sizing.saving_w, site) if sizing.saving_w else None
    quality = Quality(
        power=power_tier(d.provenance for h in group for d in power_specs(h)),
        curve=curve_tier(sizing.curves[0] if sizing.curves else None),
        history="medium",
        site_defaulted=site.defaulted,
    )
    shown = ", ".join(names)
    notes = _consolidation_notes(group, sizing, thresholds, min_hosts)
    return Finding(
        rule="CONSOLIDATE_HOSTS",
        device=shown,
        severity="warning",
        message=(
            f"{n} similar hosts ({shown}) together use {pq:.1%} of their capacity at "
            f"P{q * 100:g}; {m} of them would carry the load at {target:.0%} target "
            f"utilisation, so {n - m} can be freed."
        ),
        evidence={
            "hosts": names,
            "n_hosts": n,
            f"p{q * 100:g}_group_util".replace(".", "_"): pq,
            "mean_group_util": sizing.mean_util,
            "target_util": target,
            "provisioned_cores": group[0].cores,
            "mode": thresholds.mode,
            "curve": _curve_evidence(sizing),
        },
        recommendation={"hosts": m, "free_hosts": n - m},
        savings=savings,
        confidence=quality.tier(with_savings=savings is not None),
        assumptions=(*notes, *(site.assumptions() if savings else ())),
    )


def _curve_evidence(sizing: Sizing) -> dict[str, Any] | None:
    """Which curve the saving used: source (ladder or model), label, and its points."""
    if sizing.curves is None:
        return None
    curve = sizing.curves[0]
    return {"source": curve.source, "label": curve.label, "points": [list(p) for p in curve.points]}


def consolidation(
    group: Sequence[HostData],
    site: Site,
    thresholds: Thresholds,
    min_hosts: int,
    util_of: GroupUtil = group_util,
) -> tuple[Finding | None, dict[str, Any]]:
    """CONSOLIDATE_HOSTS for N similar hosts (docs/methodology.md#savings); also its figures.

    P95_u is the nearest-rank P95 of the group's mean utilisation per step (the combined
    demand, not each host's own P95); target is the right-sizing target of the mode
    (0.65 production, 0.80 conservative, with the conservative P99.5). Savings
    N.P(u) - M.P(N.u/M) on the linear power model of the hosts' CPU packages.
    """
    fleet_util = util_of(group)
    q = thresholds.over_cpu_quantile
    pq = nearest_rank(fleet_util, q)
    finite = fleet_util[~np.isnan(fleet_util)]
    mean_u = float(finite.mean()) if finite.size else None
    figures: dict[str, Any] = {
        "hosts": [h.instance for h in group],
        "cores": group[0].cores,
        "model": group[0].model,
        f"p{q * 100:g}_util".replace(".", "_"): pq,
        "mean_util": mean_u,
    }
    if pq is None or mean_u is None:
        return None, figures
    sizing = size_consolidation(group, pq, mean_u, thresholds, min_hosts)
    figures["consolidate_onto"] = sizing.onto
    if sizing.onto >= sizing.hosts:
        return None, figures
    if sizing.saving_w is not None:
        figures["saving_w"] = sizing.saving_w.point
        figures["curve"] = _curve_evidence(sizing)
    return consolidation_finding(group, sizing, site, thresholds, min_hosts), figures


def idle_energy(
    hosts: Sequence[HostData], site: Site, thresholds: Thresholds
) -> tuple[Finding | None, dict[str, Any]]:
    """FLEET_IDLE_ENERGY: energy drawn at steps where a host's utilisation was idle.

    Idle is a step mean below the indicative idle bound (3%, the IDLE_HOST P95 bound,
    docs/methodology.md#rules). Annualised from the time that has data: each host's idle
    energy over its power devices' covered seconds, x 8,760 h (`model.annual`), summed.
    """
    per_host: dict[str, float] = {}
    covered: dict[str, float] = {}
    seconds = 0.0
    for host in hosts:
        subject = host_device(host)
        if subject is None:
            continue
        idle_times = subject.t[subject.util < thresholds.indicative_cpu_idle_util]
        seconds = max(seconds, float(subject.t[-1] - subject.t[0] + subject.interval_s[0]))
        joules = 0.0
        for device in power_devices(host):
            at_idle = np.isin(device.t, idle_times) & ~np.isnan(device.energy_delta_j)
            joules += float(device.energy_delta_j[at_idle].sum())
            totals = device_totals(device)
            covered[host.instance] = max(
                covered.get(host.instance, 0.0), totals[1] if totals else 0.0
            )
        if joules > 0:
            per_host[host.instance] = joules
    total_j = sum(per_host.values())
    figures: dict[str, Any] = {"idle_energy_j": total_j, "hosts": per_host}
    kwh_per_year = rate_kwh_per_year((j, covered[h]) for h, j in per_host.items())
    if total_j <= 0 or kwh_per_year is None:
        return None, figures
    figures["idle_it_kwh_per_year"] = kwh_per_year
    facility = kwh_per_year * site.pue
    names = sorted(per_host)
    finding = Finding(
        rule="FLEET_IDLE_ENERGY",
        device=", ".join(names),
        severity="info",
        message=(
            f"{len(names)} host(s) drew {total_j / J_PER_KWH:,.1f} kWh while idle in the "
            f"window, about {kwh_per_year:,.0f} kWh/yr IT ({facility:,.0f} kWh/yr facility); "
            f"see the IDLE_HOST and consolidation findings for what to switch off."
        ),
        evidence={
            "idle_energy_j": total_j,
            "idle_energy_j_by_host": per_host,
            "window_s": seconds,
            "covered_s_by_host": {h: covered[h] for h in per_host},
            "idle_it_kwh_per_year": kwh_per_year,
            "idle_util_below": thresholds.indicative_cpu_idle_util,
        },
        recommendation=None,
        savings=None,
        confidence="low" if site.defaulted else "medium",
        assumptions=(
            "idle: a step's mean host utilisation below 3% (the IDLE_HOST P95 bound)",
            "energy of the hosts' CPU/DRAM devices; GPUs are in their own findings",
            "an observation, not a saving by itself",
        ),
    )
    return finding, figures


def assess_host(host: HostData, site: Site, thresholds: Thresholds) -> Assessment:
    """Assess one host: `assess_usage` on its series (with its measured curve, if any).

    A host screened clear in Prometheus has no series here and no finding; its metrics
    are its screening figures (`screened`).
    """
    if host.screened is not None:
        return Assessment([], {"devices": {}, "screened": dict(host.screened)}, [])
    assessed = assess_usage(host.series, site, thresholds, ladder=host.ladder)
    if host.curve is None:
        return assessed
    named = [_on_host(f, host) if f.rule == "LOW_EFFICIENCY_HOST" else f for f in assessed.findings]
    return conclude(named, assessed.metrics, site)


def _on_host(finding: Finding, host: HostData) -> Finding:
    """Name the host on a ladder finding (its device is the ladder's `cpu:N`) and its curve."""
    curve = host.curve.label if host.curve else "none"
    return dataclasses.replace(
        finding,
        device=f"{host.instance}/{finding.device}",
        assumptions=(*finding.assumptions, f"host power curve: measured, {curve}"),
    )


def assess_fleet(
    hosts: Sequence[HostData],
    site: Site,
    thresholds: Thresholds,
    min_hosts: int,
    util_of: GroupUtil = group_util,
) -> FleetAssessment:
    """Assess every host with `assess_usage`, then add the fleet findings.

    Args:
        hosts: every host of the fleet.
        site: PUE, grid intensity and tariff.
        thresholds: rule thresholds and eligibility limits.
        min_hosts: never consolidate a group onto fewer hosts (redundancy).
        util_of: the group's mean utilisation per step (PromQL when hosts were screened).
    """
    assessments = {h.instance: assess_host(h, site, thresholds) for h in hosts}
    findings: list[Finding] = [f for a in assessments.values() for f in a.findings]
    acting = {
        instance: {f.rule for f in assessment.findings} & SELF_ACTING_RULES
        for instance, assessment in assessments.items()
    }
    fleet_metrics: dict[str, Any] = {
        "hosts": len(hosts),
        "hosts_read": sum(1 for h in hosts if h.screened is None),
        "hosts_screened": sum(1 for h in hosts if h.screened is not None),
        "measured_curves": sorted(h.instance for h in hosts if h.curve is not None),
        "groups": [],
    }
    for group in similar_groups(hosts, acting):
        finding, figures = consolidation(group, site, thresholds, min_hosts, util_of)
        fleet_metrics["groups"].append(figures)
        findings.extend([finding] if finding else [])
    idle, figures = idle_energy(hosts, site, thresholds)
    fleet_metrics["idle"] = figures
    findings.extend([idle] if idle else [])
    return FleetAssessment(conclude(findings, fleet_metrics, site), assessments)
