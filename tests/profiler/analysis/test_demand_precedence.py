"""IDLE_HOST and the schedule findings on one host: a recurring job outranks the percentile."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from profiler.analysis.assess import assess_usage
from profiler.analysis.findings import apply_precedence
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.time_rules import LocalClock
from profiler.model.findings import Finding
from profiler.model.savings import Site
from tests.profiler.analysis.demand_series import (
    LONDON,
    local_util,
    power_of,
    sample_times,
    series,
)

TH = Thresholds()
CLOCK = LocalClock("Europe/London", LONDON)


def _finding(rule: str, device: str = "host") -> Finding:
    return Finding(rule=rule, device=device, severity="warning", message="", evidence={})


def test_a_schedule_finding_supersedes_idle_host_on_the_same_host() -> None:
    kept = apply_precedence([_finding("IDLE_HOST"), _finding("PEAK_SIZED_HOST")])
    assert [f.rule for f in kept] == ["PEAK_SIZED_HOST"]
    kept = apply_precedence([_finding("IDLE_HOST"), _finding("OFF_HOURS_IDLE")])
    assert [f.rule for f in kept] == ["OFF_HOURS_IDLE"]


def test_on_another_host_idle_host_stands() -> None:
    kept = apply_precedence([_finding("IDLE_HOST", "a"), _finding("PEAK_SIZED_HOST", "b")])
    assert {f.rule for f in kept} == {"IDLE_HOST", "PEAK_SIZED_HOST"}


def _weekly_job_host() -> list:  # type: ignore[type-arg]
    # idle at 1 %, a 2-hour job every Wednesday 02:00-04:00: 1.2 % of the time busy,
    # so the whole-window P95 passes the idle test, and the last 3 days are quiet
    t = sample_times(4)
    util = local_util(t, LONDON, lambda d, h, w: d == 2 and 2 <= h < 4, 0.5, 0.01)
    host = series("host", t, util, provenance=None)
    cpu = series("cpu:0", t, util, power_of(util, 60.0, 160.0), kind="cpu")
    return [host, cpu]


def test_a_weekly_job_is_idle_host_without_a_clock_and_peak_sized_with_one() -> None:
    devices = _weekly_job_host()
    without = {f.rule for f in assess_usage(devices, Site(), TH).findings}
    assert "IDLE_HOST" in without and "PEAK_SIZED_HOST" not in without
    timed = assess_usage(devices, Site(), TH, clock=CLOCK).findings
    rules = {f.rule for f in timed}
    assert "PEAK_SIZED_HOST" in rules and "IDLE_HOST" not in rules
    (peak,) = [f for f in timed if f.rule == "PEAK_SIZED_HOST"]
    assert [w["label"] for w in peak.evidence["windows"]] == ["Wed 02:00-Wed 04:00"]
    assert peak.evidence["idle_power_source"] == "measured"
    assert peak.evidence["idle_power_w"] == pytest.approx(61.0, abs=0.2)  # 60 W + 1 % x 100 W


def test_a_gpu_busy_only_for_the_end_of_day_run_from_assess() -> None:
    t = sample_times(4)
    host_util = local_util(t, LONDON, lambda d, h, w: True, 0.3, 0.3)
    sm = np.clip(local_util(t, LONDON, lambda d, h, w: d < 5 and 18 <= h < 21, 0.9, 0.0), 0, 1)
    gpu = series("gpu:0", t, sm, power_of(sm, 70.0, 400.0), kind="gpu", cores=None)
    gpu = dataclasses.replace(gpu, sm_active=sm)
    host = series("host", t, host_util, provenance=None)
    findings = assess_usage([host, gpu], Site(), TH, clock=CLOCK).findings
    (gpu_finding,) = [f for f in findings if f.rule == "PEAK_SIZED_GPU"]
    assert gpu_finding.device == "gpu:0"
    assert gpu_finding.recommendation is not None
    assert gpu_finding.recommendation["schedule"]["tz"] == "Europe/London"
