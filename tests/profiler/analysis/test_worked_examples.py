"""Every worked example of docs/methodology.md#worked-examples, through the pure functions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from profiler.analysis.assess import assess_usage
from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo
from profiler.model.series import device_series
from tests.profiler.analysis.examples import (
    eight_gpus,
    given_site,
    idle_host_util,
    idle_host_with,
    oversized_cpu_util,
)

SITE_EXAMPLE = given_site(475.0, "given", 0.15)


def test_idle_host_example() -> None:
    devices = idle_host_with(DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"), 120.0)
    result = assess_usage(devices, SITE_EXAMPLE)
    assert [f.rule for f in result.findings] == ["IDLE_HOST"]  # supersedes OVER_PROVISIONED_CPU
    finding = result.findings[0]
    assert finding.evidence["p95_idle_test_util"] == pytest.approx(0.01)
    assert finding.evidence["max_recent_30min_mean_util"] == pytest.approx(0.01)
    s = finding.savings
    assert s is not None and s.cost_per_year is not None
    assert s.it_kwh_per_year.point == pytest.approx(1051.2)
    assert s.facility_kwh_per_year.point == pytest.approx(1576.8)
    assert s.co2e_kg_per_year.point == pytest.approx(748.98)
    assert s.cost_per_year.point == pytest.approx(236.52)
    assert s.it_kwh_per_year.low == s.it_kwh_per_year.high == s.it_kwh_per_year.point
    assert finding.confidence == "medium"  # RAPL, 7 days: docs/methodology.md#confidence
    assert "PUE 1.5 (given)" in finding.assumptions


def test_idle_host_does_not_fire_when_a_gpu_activity_is_unknown() -> None:
    """Under MIG NVML reports no utilisation: an unknown GPU is never taken for an idle one."""
    devices = idle_host_with(DeviceInfo("gpu:0", "gpu", provenance="measured:nvml-energy"), 350.0)
    rules = [f.rule for f in assess_usage(devices, SITE_EXAMPLE).findings]
    assert "IDLE_HOST" not in rules


def test_idle_host_fails_when_recent_days_are_busy() -> None:
    t, util = idle_host_util()
    util[-1] = 0.025  # a 30-min mean above 2% in the last 3 days
    host = device_series(DeviceInfo("host", "host", logical_cores=16), t, util=util)
    rules = [f.rule for f in assess_usage([host], SITE_EXAMPLE).findings]
    assert "IDLE_HOST" not in rules


def test_oversized_cpu_conservative_example() -> None:
    t, util = oversized_cpu_util()
    host = device_series(DeviceInfo("host", "host", logical_cores=64), t, util=util)
    th = Thresholds(mode="conservative", cpu_sizes=(8, 16, 32, 64))
    result = assess_usage([host], SITE_EXAMPLE, th)
    assert [f.rule for f in result.findings] == ["OVER_PROVISIONED_CPU"]
    finding = result.findings[0]
    assert finding.evidence["p99_5_busy_cores"] == pytest.approx(12.0)
    assert finding.evidence["needed_cores"] == pytest.approx(15.0)
    assert finding.recommendation == {"cores": 16}
    assert finding.savings is None  # no power curve: no CPU power figure at all


def test_oversized_cpu_savings_on_the_model_curve() -> None:
    t, util = oversized_cpu_util()
    host = device_series(DeviceInfo("host", "host", logical_cores=64), t, util=util)
    cpu = device_series(
        DeviceInfo(
            "cpu:0",
            "cpu",
            power_limit_w=280.0,
            provenance="estimated:linear-tdp",
            details={"model_idle_w": 56.0, "model_max_w": 280.0},
        ),
        t,
        power_w=56.0 + 224.0 * util,
    )
    th = Thresholds(mode="conservative", cpu_sizes=(8, 16, 32, 64))
    finding = assess_usage([host, cpu], SITE_EXAMPLE, th).findings[0]
    assert finding.rule == "OVER_PROVISIONED_CPU"
    assert finding.savings is not None
    # linear curve: right-sizing to 16/64 saves (1 - 16/64) x P_idle = 42 W
    assert finding.savings.it_kwh_per_year.point == pytest.approx(42.0 * 8.76)
    it = finding.savings.it_kwh_per_year
    assert it.low <= it.point <= it.high
    assert finding.confidence == "low"  # model power and model curve


def test_oversized_cpu_production_mode_uses_p95() -> None:
    t, util = oversized_cpu_util()
    host = device_series(DeviceInfo("host", "host", logical_cores=64), t, util=util)
    finding = assess_usage([host], SITE_EXAMPLE, Thresholds(cpu_sizes=(8, 16, 32, 64))).findings[0]
    # P95 = 15% of 64 = 9.6 cores / 0.65 = 14.8 -> 16
    assert finding.evidence["p95_busy_cores"] == pytest.approx(9.6)
    assert finding.recommendation == {"cores": 16}


def test_eight_gpu_example() -> None:
    t, gpus = eight_gpus()
    series = [
        device_series(DeviceInfo(g, "gpu", provenance="measured:nvml-energy"), t, **m)
        for g, m in gpus.items()
    ]
    result = assess_usage(series, SITE_EXAMPLE)
    by_device = {f.device: f for f in result.findings}
    assert set(by_device) == {"gpu:3", "gpu:5"}  # six busy GPUs: no finding
    idle, held = by_device["gpu:3"], by_device["gpu:5"]
    assert idle.rule == "IDLE_GPU" and held.rule == "ALLOCATED_IDLE_GPU"
    assert idle.savings is not None and held.savings is not None
    assert idle.savings.it_kwh_per_year.point == pytest.approx(613.2)
    assert held.savings.it_kwh_per_year.point == pytest.approx(788.4)
    assert [f.device for f in result.findings] == ["gpu:5", "gpu:3"]  # ranked by savings


def test_under_provisioned_suppresses_over_provisioned() -> None:
    t = np.arange(0.0, 8 * 86400.0, 300.0)
    util = np.full(t.size, 0.02)
    util[-100:] = 0.95
    mem = np.full(t.size, 10.0 * 2**30)
    host = device_series(
        DeviceInfo("host", "host", logical_cores=64, mem_total_bytes=512 * 2**30),
        t,
        util=util,
        mem_used_bytes=mem,
    )
    rules = [f.rule for f in assess_usage([host], SITE_EXAMPLE).findings]
    assert rules == ["UNDER_PROVISIONED_CPU"]
    calm = dataclasses.replace(host, util=np.full(t.size, 0.1))
    rules = sorted(f.rule for f in assess_usage([calm], SITE_EXAMPLE).findings)
    assert rules == ["OVER_PROVISIONED_CPU", "OVER_PROVISIONED_MEM"]


def test_short_window_gives_insufficient_data_with_indicative_figures() -> None:
    t = np.arange(0.0, 2 * 86400.0, 60.0)
    host = device_series(DeviceInfo("host", "host", logical_cores=8), t, util=np.full(t.size, 0.01))
    cpu = device_series(
        DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"), t, power_w=np.full(t.size, 50.0)
    )
    result = assess_usage([host, cpu], SITE_EXAMPLE)
    assert [f.rule for f in result.findings] == ["INSUFFICIENT_DATA"]
    indicative = result.findings[0].evidence["indicative"]
    assert indicative["idle_share"] == 1.0
    assert indicative["idle_energy_j"] == pytest.approx(50.0 * (t[-1]))
    short = Thresholds(min_span_s=86400.0, min_valid_hours=24.0)
    rules = [f.rule for f in assess_usage([host, cpu], SITE_EXAMPLE, short).findings]
    assert rules == ["IDLE_HOST"]
