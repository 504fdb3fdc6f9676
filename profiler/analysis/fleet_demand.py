"""A fleet's findings that see time, from hourly rows: schedules per host and pools; pure.

From each host's hourly rows (`profiler.prometheus.demand`: the hour's means, and its
highest 5-min mean activity):

- per host, `PEAK_SIZED_HOST` / `OFF_HOURS_IDLE` (`demand_rules.schedule_finding` on
  the `demand_summary.hourly_profile`), its idle power the mean measured power of its
  CPU package and DRAM devices in its idle hours (`time_rules.measured_host_idle`);
- `COMPLEMENTARY_PEAKS` (`complementary.complementary_peaks`) per group of hosts of one
  core count: each host's demand is its busy cores per hour, the hour's highest 5-min
  mean utilisation x cores. Packing on hourly peaks is conservative: the sum of the
  members' hourly peaks is at or above every 5-min sum within the hour, so no pool
  exceeds its target at any observed 5-minute step either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from profiler.analysis.complementary import Demand, complementary_peaks
from profiler.analysis.confidence import Quality
from profiler.analysis.demand_rules import schedule_finding
from profiler.analysis.demand_summary import hourly_profile
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.time_rules import LocalClock, measured_host_idle
from profiler.model.findings import Finding
from profiler.model.savings import Site
from profiler.model.series import DeviceSeries, FloatArray


def _host_device(devices: Sequence[DeviceSeries]) -> DeviceSeries | None:
    hosts = [d for d in devices if d.spec.kind == "host" and not np.isnan(d.util).all()]
    return hosts[0] if hosts else None


def fleet_time_findings(
    hosts: Mapping[str, Sequence[DeviceSeries]],
    peaks: Mapping[str, FloatArray],
    grid: FloatArray,
    clock: LocalClock,
    site: Site,
    thresholds: Thresholds,
) -> list[Finding]:
    """Return the fleet's schedule findings per host and its COMPLEMENTARY_PEAKS.

    Args:
        hosts: instance -> its devices' hourly rows.
        peaks: device id -> each row's highest 5-min mean activity.
        grid: the hour ends of the window (every series' `t` is one of them).
        clock: the site's zone.
        site: PUE, grid and tariff.
        thresholds: `demand_*`, `schedule_*`, `pool_*`.
    """
    findings: list[Finding] = []
    groups: dict[float, list[Demand]] = {}
    step_s = float(grid[1] - grid[0]) if grid.size > 1 else 3600.0
    quality = Quality(power="medium", history="medium", site_defaulted=site.defaulted)
    for instance, devices in sorted(hosts.items()):
        host = _host_device(devices)
        peak = peaks.get(host.spec.device_id) if host is not None else None
        if host is None or peak is None:
            continue
        profile = hourly_profile(host, peak, clock.local(host), thresholds)
        power = [d for d in devices if d.spec.kind in ("cpu", "dram") and d.spec.provenance]
        idle = measured_host_idle(profile, power, clock, thresholds)
        finding = schedule_finding(profile, clock.tz, None, idle, site, quality, thresholds)
        findings.extend([finding] if finding else [])
        cores = host.spec.logical_cores
        if cores:
            busy = np.full(grid.size, np.nan)
            index = np.rint((host.t - grid[0]) / step_s).astype(np.int64)
            busy[index] = peak * cores
            groups.setdefault(float(cores), []).append(Demand(instance, busy, float(cores), idle))
    for _, demands in sorted(groups.items()):
        pooled = complementary_peaks(demands, step_s, site, quality, thresholds)
        findings.extend([pooled] if pooled else [])
    return findings
