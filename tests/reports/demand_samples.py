"""A month of a nightly batch host, profiled and analysed by the pure core, for the reports.

The host idles at 2 % and runs a batch at 35 % from 23:00 to 01:00 every night,
Europe/London, four weeks at 5-minute resolution (the issue's second case). Its CPU
package measures its power (RAPL, 60 W idle to 160 W): its schedule's saving rests on
the measured idle power; the host row has no power and falls back to the labelled
model. Every finding comes out of the analyzer's own functions, so a report test sees
the evidence shapes the analyzer writes. Two hosts with complementary peaks make the
fleet's COMPLEMENTARY_PEAKS finding.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from profiler.analysis.assess import Assessment
from profiler.analysis.complementary import Demand as PoolDemand
from profiler.analysis.complementary import complementary_peaks
from profiler.analysis.confidence import Quality
from profiler.analysis.demand import hot_windows, profile_demand
from profiler.analysis.demand_rules import schedule_finding
from profiler.analysis.host_rules import IdlePower, under_provisioned_cpu
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.usage import usage_stats
from profiler.model.findings import Finding
from profiler.model.savings import Estimate
from profiler.model.series import DeviceSeries
from reports.demand import Demand, DeviceDemand
from tests.profiler.analysis.demand_series import (
    LONDON,
    STEP_S,
    local_util,
    power_of,
    sample_times,
    series,
)
from tests.reports.samples import SITE

TZ = "Europe/London"
TH = Thresholds()
QUALITY = Quality(power="medium", history="high")
MODEL_IDLE = IdlePower(
    Estimate(50.0, 40.0, 60.0), "model", "linear model 50.0-150.0 W over 1 CPU package(s)"
)
WEEKS = 4.0


def nightly(hour: int) -> bool:
    """Return True in the batch's local hours (23:00-01:00)."""
    return hour in (23, 0)


@cache
def batch_series() -> tuple[DeviceSeries, DeviceSeries]:
    """Return (host, cpu:0) of the nightly batch host: host util only, cpu:0 with power."""
    t = sample_times(WEEKS)
    util = local_util(t, LONDON, lambda d, h, w: nightly(h), 0.35, 0.02)
    host = series("host", t, util, cores=4)
    cpu = series("cpu:0", t, util, power_of(util, 60.0, 160.0), kind="cpu", cores=None)
    return host, cpu


@cache
def batch_demand() -> Demand:
    """Return the report record's demand profiles of the nightly batch host."""
    host, cpu = batch_series()
    return Demand(
        TZ,
        float(host.t[-1] - host.t[0] + STEP_S),
        (
            DeviceDemand(profile_demand(host, LONDON, TH), "host", 4),
            DeviceDemand(profile_demand(cpu, LONDON, TH), "cpu"),
        ),
    )


def batch_findings() -> list[Finding]:
    """Return the analyzer's schedule findings of the host (model idle) and cpu:0 (measured)."""
    demand = batch_demand()
    found = []
    for item, fallback in zip(demand.devices, (MODEL_IDLE, None), strict=True):
        provenance = "measured:rapl" if item.kind == "cpu" else None
        finding = schedule_finding(
            item.profile, TZ, provenance, fallback, SITE, QUALITY, TH, kind="host"
        )
        assert finding is not None, item.profile.device_id
        found.append(finding)
    return found


def batch_assessment() -> Assessment:
    """Return the assessment of the batch host's month: its two schedule findings."""
    return Assessment(batch_findings(), {}, SITE.assumptions())


@cache
def office_demand() -> Demand:
    """Return the profile of a 4-core host busy 09:00-17:00 on weekdays, idle otherwise."""
    t = sample_times(WEEKS)
    util = local_util(t, LONDON, lambda d, h, w: d < 5 and 9 <= h < 17, 0.4, 0.02)
    host = series("host", t, util, power_of(util, 60.0, 160.0), cores=4)
    return Demand(
        TZ, WEEKS * 7 * 86_400.0, (DeviceDemand(profile_demand(host, LONDON, TH), "host", 4),)
    )


def office_finding() -> Finding:
    """Return the office host's schedule finding (measured idle power)."""
    profile = office_demand().devices[0].profile
    finding = schedule_finding(profile, TZ, "measured:rapl", None, SITE, QUALITY, TH)
    assert finding is not None
    return finding


def gpu_finding() -> Finding:
    """Return PEAK_SIZED_GPU of a GPU busy only for the end-of-day run (18:00-21:00 weekdays)."""
    t = sample_times(WEEKS)
    sm = np.clip(local_util(t, LONDON, lambda d, h, w: d < 5 and 18 <= h < 21, 0.9, 0.0), 0, 1)
    gpu = series("gpu:0", t, sm, power_of(sm, 70.0, 400.0), kind="gpu", cores=None)
    profile = profile_demand(gpu, LONDON, TH, util=sm, busy_level=TH.demand_busy_gpu)
    finding = schedule_finding(profile, TZ, gpu.spec.provenance, None, SITE, QUALITY, TH, "gpu")
    assert finding is not None
    return finding


def hot_under_finding() -> Finding:
    """Return the window-aware UNDER_PROVISIONED_CPU of a 4-core host hot 15:00-17:00 weekdays."""
    t = sample_times(WEEKS)
    util = local_util(t, LONDON, lambda d, h, w: d < 5 and 15 <= h < 17, 0.95, 0.02)
    host = series("host", t, util, cores=4)
    stats = usage_stats(host, float(host.t[0]), TH)
    hot = hot_windows(host, LONDON, 1.0 - TH.under_cpu_headroom, TH)
    finding = under_provisioned_cpu(stats, 4, QUALITY, TH, hot)
    assert finding is not None and "hot_windows" in finding.evidence
    return finding


def time_rules() -> list[Finding]:
    """Return one finding of each rule that sees time, as the analyzer makes it."""
    return [batch_findings()[1], office_finding(), gpu_finding(), pool_finding()]


def pool_finding() -> Finding:
    """Return COMPLEMENTARY_PEAKS of two 8-core hosts: one busy by day, the other by night."""
    t = sample_times(WEEKS)
    day = local_util(t, LONDON, lambda d, h, w: 9 <= h < 17, 0.6, 0.05)
    night = local_util(t, LONDON, lambda d, h, w: h >= 20 or h < 4, 0.6, 0.05, seed=2)
    idle = IdlePower(Estimate(70.0, 60.0, 80.0), "measured", "mean measured power of cpu:0")
    demands = [
        PoolDemand("node-day:9100", day * 8, 8.0, idle),
        PoolDemand("node-night:9100", night * 8, 8.0, idle),
    ]
    finding = complementary_peaks(demands, STEP_S, SITE, QUALITY, TH)
    assert finding is not None
    return finding


def pool_document() -> dict[str, object]:
    """Return a fleet findings document with the COMPLEMENTARY_PEAKS finding."""
    return {
        "findings": [pool_finding().as_dict()],
        "metrics": {
            "window": {"start": "2026-11-02T00:00:00Z", "end": "2026-11-30T00:00:00Z"},
            "hosts": {"node-day:9100": {}, "node-night:9100": {}},
        },
    }


def busy_cells() -> set[int]:
    """Return the hours of the week the batch runs (23:00 and 00:00 every day)."""
    return {h for h in range(168) if nightly(h % 24)}


def mean_use_of(profile_index: int) -> np.ndarray:
    """Return the 168 mean-use cells of one profiled device, in per cent."""
    return batch_demand().devices[profile_index].profile.util_mean * 100.0
