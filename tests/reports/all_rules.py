"""One finding of every rule the analyzer emits, made by the analyzer from worked examples.

Each finding comes out of the analyzer's own functions (`assess_usage`, `assess_profile`,
`assess_fleet`, `data_quality_finding`) fed with the worked examples of
tests/profiler/analysis and small ladders, so a report test sees exactly the evidence
shapes the analyzer writes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from profiler.analysis.assess import assess_profile, assess_usage
from profiler.analysis.fleet_rules import HostData, assess_fleet
from profiler.analysis.ladder_data import Disagreement, LadderData, data_quality_finding
from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo
from profiler.model.findings import Finding
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.savings import Site
from profiler.model.series import device_series
from profiler.model.units import DAY_S, GIB
from tests.profiler.analysis.examples import eight_gpus, idle_host_with
from tests.reports import demand_samples

RULES = (
    "IDLE_HOST", "UNDER_PROVISIONED_CPU", "OVER_PROVISIONED_CPU", "OVER_PROVISIONED_MEM",
    "IDLE_GPU", "ALLOCATED_IDLE_GPU", "UNDERUSED_GPU", "MIG_OR_SHARE_CANDIDATE",
    "LOW_EFFICIENCY_HOST", "POOR_PROPORTIONALITY", "BETTER_PLACEMENT", "CONSOLIDATE_HOSTS",
    "FLEET_IDLE_ENERGY", "INSUFFICIENT_DATA", "STATED_FIGURES_DISAGREE",
    "PEAK_SIZED_HOST", "OFF_HOURS_IDLE", "PEAK_SIZED_GPU", "COMPLEMENTARY_PEAKS",
)  # fmt: skip
"""Every rule id the analyzer emits (grep `rule=` in profiler/analysis)."""


def _host_rules(site: Site) -> list[Finding]:
    devices = idle_host_with(DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"), 120.0)
    found = list(assess_usage(devices, site).findings)
    t = np.arange(0.0, 8 * DAY_S, 300.0)
    hot_util = np.full(t.size, 0.02)
    hot_util[-100:] = 0.95
    hot = device_series(
        DeviceInfo("host", "host", logical_cores=64, mem_total_bytes=512 * GIB),
        t,
        util=hot_util,
        mem_used_bytes=np.full(t.size, 10.0 * GIB),
    )
    found += assess_usage([hot], site).findings
    calm = dataclasses.replace(hot, util=np.full(t.size, 0.1))
    found += assess_usage([calm], site).findings
    t = np.arange(0.0, 2 * DAY_S, 60.0)
    short = device_series(
        DeviceInfo("host", "host", logical_cores=8), t, util=np.full(t.size, 0.01)
    )
    power = device_series(
        DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"), t, power_w=np.full(t.size, 50.0)
    )
    return found + list(assess_usage([short, power], site).findings)


def _gpu_rules(site: Site) -> list[Finding]:
    t, gpus = eight_gpus()
    gpus["gpu:6"] = {
        "util": np.full(t.size, 0.05),
        "sm_active": np.full(t.size, 0.04),
        "mem_used_bytes": np.full(t.size, 4.0 * GIB),
        "power_w": np.full(t.size, 110.0),
    }
    series = [
        device_series(DeviceInfo(g, "gpu", provenance="measured:nvml-energy"), t, **m)
        for g, m in gpus.items()
    ]
    return list(assess_usage(series, site).findings)


def _phase(device: str, load: float, ups: float, watts: float, prov: str) -> PhaseRecord:
    metrics = PhaseMetrics.of(
        units_per_s=ups, mean_power_w=watts, units_per_j=ups / watts, provenance=prov
    )
    return PhaseRecord("risk", device, load, 0.0, 60.0, ups * 60, "scenario", load, True, metrics)


def _ladder(device: str, prov: str, idle_w: float, peak_w: float, peak_ups: float) -> list:
    levels = [k / 10 for k in range(10, -1, -1)]
    return [_phase(device, u, peak_ups * u, idle_w + (peak_w - idle_w) * u, prov) for u in levels]


def _ladder_rules(site: Site) -> list[Finding]:
    flat = _ladder("cpu", "measured:rapl", idle_w=180.0, peak_w=200.0, peak_ups=1000.0)
    found = list(assess_profile(flat, site, observed_util=0.2).findings)
    modelled = _ladder("cpu", "estimated:linear-tdp", 180.0, 200.0, 1000.0)
    found += assess_profile(modelled, site, observed_util=0.2).findings
    both = _ladder("cpu", "measured:rapl", 50.0, 200.0, 1000.0) + _ladder(
        "gpu:0", "measured:nvml-energy", 50.0, 300.0, 6000.0
    )
    found += assess_profile(both, site).findings
    stated = Disagreement("risk", "cpu", 1.0, "mean_power_w", 200.0, 150.0)
    finding = data_quality_finding(LadderData([], [stated]))
    return [*found, *([finding] if finding else [])]


def _fleet_rules(site: Site) -> list[Finding]:
    t = np.arange(0.0, 8 * DAY_S, 300.0)
    hosts = []
    for i, level in enumerate((0.45, 0.45, 0.45, 0.45, 0.01)):
        util = np.full(t.size, level)
        util[: t.size // 2] = 0.01  # idle half the window: idle energy
        name = f"node-{i}:9100"
        host = DeviceInfo(f"{name}/host", "host", logical_cores=32, model="Xeon Gold 6248")
        cpu = DeviceInfo(
            f"{name}/cpu:0", "cpu", provenance="estimated:linear-tdp", power_limit_w=150.0
        )
        power = 40.0 + 110.0 * util
        series = [
            device_series(host, t, util=util),
            device_series(cpu, t, util=util, power_w=power, energy_j=np.cumsum(power * 300.0)),
        ]
        hosts.append(HostData(name, series, "Xeon Gold 6248", 32))
    return list(assess_fleet(hosts, site, Thresholds(), min_hosts=2).fleet.findings)


def every_rule(site: Site) -> list[Finding]:
    """Return one finding per rule id (the first the analyzer made), in `RULES` order."""
    found = _host_rules(site) + _gpu_rules(site) + _ladder_rules(site) + _fleet_rules(site)
    found += demand_samples.time_rules()  # made at the report samples' site
    first: dict[str, Finding] = {}
    for f in found:
        first.setdefault(f.rule, f)
    return [first[r] for r in RULES if r in first]
