"""Findings that see time, with known answers on synthetic 5-minute series over 4 weeks."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.analysis.confidence import Quality
from profiler.analysis.demand import hot_windows, profile_demand
from profiler.analysis.demand_rules import schedule_finding
from profiler.analysis.host_rules import IdlePower, idle_host, under_provisioned_cpu
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.usage import usage_stats
from profiler.analysis.week import HOURS_PER_WEEK
from profiler.model.savings import Estimate, Site
from profiler.model.series import DeviceSeries
from tests.profiler.analysis.demand_series import (
    LONDON,
    Busy,
    local_util,
    power_of,
    sample_times,
    series,
)

TH = Thresholds()
SITE = Site()
QUALITY = Quality(power="medium", history="high")
TZ = "Europe/London"
MODEL_IDLE = IdlePower(Estimate(50.0, 40.0, 60.0), "model", "linear model, idle ratio 0.2")


def _host(busy: Busy, busy_util: float, idle_util: float = 0.02, weeks: float = 4) -> DeviceSeries:
    t = sample_times(weeks)
    util = local_util(t, LONDON, busy, busy_util, idle_util)
    return series("vm", t, util, power_of(util, 60.0, 160.0))


def _finding(s: DeviceSeries, fallback: IdlePower | None = None, th: Thresholds = TH):  # type: ignore[no-untyped-def]
    profile = profile_demand(s, LONDON, th)
    return schedule_finding(profile, TZ, s.spec.provenance, fallback, SITE, QUALITY, th)


def _off_cells(finding) -> set[int]:  # type: ignore[no-untyped-def]
    """Every hour of the week an off span touches."""
    cells: set[int] = set()
    for span in finding.recommendation["schedule"]["off_spans"]:
        start, minutes = span["start_minute_of_week"], span["minutes"]
        cells |= {((start + m) // 60) % HOURS_PER_WEEK for m in range(minutes)}
    return cells


def test_nightly_batch_on_an_idle_host_saves_idle_power_in_the_off_hours() -> None:
    # the issue's second case: 2 % idle for 22 h a day, a 35 % batch 23:00-01:00
    finding = _finding(_host(lambda d, h, w: h in (23, 0), 0.35))
    assert finding is not None and finding.rule == "PEAK_SIZED_HOST"
    spans = finding.recommendation["schedule"]["off_spans"]
    assert {(s["off_at"][4:], s["wake_at"][4:]) for s in spans} == {("01:00", "22:45")}
    assert len(spans) == 7
    batch = {23 + 24 * d for d in range(7)} | {24 * d for d in range(7)}
    assert not _off_cells(finding) & batch
    idle_w = 60.0 + 100.0 * 0.02  # the linear power at 2 %
    assert finding.evidence["idle_power_w"] == pytest.approx(idle_w, rel=1e-3)
    assert finding.evidence["idle_power_source"] == "measured"
    expected_kwh = idle_w * 21.75 * 365 / 1000.0  # off 01:00-22:45 every day
    assert finding.savings is not None
    assert finding.savings.it_kwh_per_year.point == pytest.approx(expected_kwh, rel=0.01)
    # exactly: idle x (off - 7 transitions x 300 s) per week, x 8,760 h / 168 h
    exact = idle_w * (152.25 * 3600 - 7 * 300.0) / 3600 * 8760 / 168 / 1000
    assert finding.savings.it_kwh_per_year.point == pytest.approx(exact, rel=1e-3)
    assert finding.confidence == "low"  # defaulted PUE and grid lower medium by one


def test_transition_cost_is_configurable_and_subtracted() -> None:
    s = _host(lambda d, h, w: h in (23, 0), 0.35)
    free = _finding(s, th=Thresholds(schedule_transition_s=0.0))
    costly = _finding(s, th=Thresholds(schedule_transition_s=3600.0))
    assert free is not None and costly is not None and free.savings and costly.savings
    ratio = costly.savings.it_kwh_per_year.point / free.savings.it_kwh_per_year.point
    assert ratio == pytest.approx((152.25 - 7.0) / 152.25, rel=1e-3)


def test_unmeasured_power_uses_the_labelled_model_at_low_confidence() -> None:
    t = sample_times(4)
    util = local_util(t, LONDON, lambda d, h, w: h in (23, 0), 0.35, 0.02)
    finding = _finding(series("vm", t, util, provenance=None), fallback=MODEL_IDLE)
    assert finding is not None and finding.savings is not None
    assert finding.evidence["idle_power_source"] == "model"
    assert finding.savings.it_kwh_per_year.low < finding.savings.it_kwh_per_year.high
    assert finding.confidence == "low"
    assert any("linear model" in line for line in finding.assumptions)


def test_weekday_office_hours_get_nights_and_weekends_off() -> None:
    finding = _finding(_host(lambda d, h, w: d < 5 and 8 <= h < 18, 0.5))
    assert finding is not None and finding.rule == "OFF_HOURS_IDLE"
    spans = finding.recommendation["schedule"]["off_spans"]
    assert [(s["off_at"], s["wake_at"]) for s in spans] == [
        ("Mon 18:00", "Tue 07:45"),
        ("Tue 18:00", "Wed 07:45"),
        ("Wed 18:00", "Thu 07:45"),
        ("Thu 18:00", "Fri 07:45"),
        ("Fri 18:00", "Mon 07:45"),
    ]
    weekend = set(range(5 * 24, 7 * 24))
    assert weekend <= _off_cells(finding)
    kube = finding.recommendation["forms"]["kube_green"]
    assert 'weekdays: "1,2,3,4,5"' in kube and 'sleepAt: "18:00"' in kube


def test_steady_host_gets_no_schedule() -> None:
    assert _finding(_host(lambda d, h, w: True, 0.4, 0.4)) is None


def test_random_peaks_get_no_schedule() -> None:
    rng = np.random.default_rng(3)
    hot = {(w, int(c)) for w in range(4) for c in rng.choice(168, size=6, replace=False)}
    assert _finding(_host(lambda d, h, w: (w, d * 24 + h) in hot, 0.6)) is None


def test_an_irregular_extra_busy_hour_is_never_switched_off() -> None:
    # the batch every night, and once (week 2, Wednesday 10:00) a busy hour besides
    finding = _finding(_host(lambda d, h, w: h in (23, 0) or (w, d, h) == (2, 2, 10), 0.35))
    assert finding is not None
    assert 2 * 24 + 10 not in _off_cells(finding)
    assert finding.evidence["regular_weeks"] == 3


def test_below_four_weeks_confidence_is_low() -> None:
    finding = _finding(_host(lambda d, h, w: h in (23, 0), 0.35, weeks=2))
    assert finding is not None
    assert finding.confidence == "low"
    assert any("weeks of history" in line for line in finding.assumptions)


def _hot_weekday_host(start: int, hours: int) -> DeviceSeries:
    return _host(lambda d, h, w: d < 5 and start <= h < start + hours, 0.95)


@pytest.mark.parametrize(("start", "hours"), [(15, 2), (14, 3)])
def test_a_host_hot_only_in_weekday_windows_gets_no_bare_add_capacity(
    start: int, hours: int
) -> None:
    # the issue's first case (4 vCPU busy 15:00-17:00 weekdays) and a host hot 3 h a day
    s = _hot_weekday_host(start, hours)
    stats = usage_stats(s, float(s.t[0]), TH)
    bare = under_provisioned_cpu(stats, 4, QUALITY, TH)
    assert bare is not None and "add capacity" in bare.message
    hot = hot_windows(s, LONDON, 1.0 - TH.under_cpu_headroom, TH)
    finding = under_provisioned_cpu(stats, 4, QUALITY, TH, hot)
    assert finding is not None and finding.rule == "UNDER_PROVISIONED_CPU"
    assert "add capacity" not in finding.message
    assert f"Mon {start:02d}:00-Mon {start + hours:02d}:00" in finding.message
    assert finding.recommendation is not None and finding.recommendation["in_windows_only"]
    options = {a["option"] for a in finding.recommendation["alternatives"]}
    assert len(options) == 3
    burst = finding.recommendation["alternatives"][1]["extra_core_hours_per_week"]
    extra = finding.evidence["needed_cores"] - 4
    assert burst == pytest.approx(extra * 5 * hours)
    # and the hours outside the windows are scheduled off
    schedule = _finding(s)
    assert schedule is not None and schedule.rule == "PEAK_SIZED_HOST"


def test_a_host_hot_all_day_keeps_the_plain_finding() -> None:
    s = _host(lambda d, h, w: True, 0.95, 0.95)
    stats = usage_stats(s, float(s.t[0]), TH)
    hot = hot_windows(s, LONDON, 0.8, TH)
    finding = under_provisioned_cpu(stats, 4, QUALITY, TH, hot)
    assert finding is not None and "add capacity" in finding.message


def test_gpu_busy_only_for_the_end_of_day_run_is_released_outside_it() -> None:
    t = sample_times(4)
    sm = local_util(t, LONDON, lambda d, h, w: d < 5 and 18 <= h < 21, 0.9, 0.0)
    sm = np.clip(sm, 0.0, 1.0)
    gpu = series("gpu:0", t, sm, power_of(sm, 70.0, 400.0), kind="gpu", cores=None)
    profile = profile_demand(gpu, LONDON, TH, util=sm, busy_level=TH.demand_busy_gpu)
    finding = schedule_finding(profile, TZ, gpu.spec.provenance, None, SITE, QUALITY, TH, "gpu")
    assert finding is not None and finding.rule == "PEAK_SIZED_GPU"
    assert "MIG" in finding.message
    assert finding.evidence["idle_power_w"] == pytest.approx(70.0 + 330.0 * 0.0015 / 2, abs=0.5)


def test_the_issues_two_hosts_get_the_right_findings() -> None:
    # 1: a 4-vCPU VM busy only 15:00-17:00 on weekdays; 2: 2 % idle, a 35 % batch 23-01
    peak = _hot_weekday_host(15, 2)
    batch = _host(lambda d, h, w: h in (23, 0), 0.35)
    peak_stats = usage_stats(peak, float(peak.t[0]), TH)
    batch_stats = usage_stats(batch, float(batch.t[0]), TH)
    # the whole-window rules: a bare add-capacity, and nothing at all for the batch host
    assert idle_host(batch_stats, {}, None, SITE, QUALITY, TH) is None
    hot = hot_windows(peak, LONDON, 0.8, TH)
    under = under_provisioned_cpu(peak_stats, 4, QUALITY, TH, hot)
    assert under is not None and under.evidence["hot_share_of_week"] == pytest.approx(10 / 168)
    peak_sized, batch_sized = _finding(peak), _finding(batch)
    assert peak_sized is not None and peak_sized.rule == "PEAK_SIZED_HOST"
    assert batch_sized is not None and batch_sized.rule == "PEAK_SIZED_HOST"
    assert [w["label"] for w in peak_sized.evidence["windows"]] == [
        f"{d} 15:00-{d} 17:00" for d in ("Mon", "Tue", "Wed", "Thu", "Fri")
    ]


def test_schedule_findings_are_strict_json() -> None:
    import json

    finding = _finding(_host(lambda d, h, w: d < 5 and 8 <= h < 18, 0.5))
    assert finding is not None
    text = json.dumps(finding.as_dict(), allow_nan=False)
    assert json.loads(text)["recommendation"]["forms"]["cron"].startswith("# finwatt")
