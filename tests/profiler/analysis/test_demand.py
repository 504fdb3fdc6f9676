"""Demand profiles with known answers: local weekday x hour, load-duration, windows, DST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from profiler.analysis.demand import profile_demand
from profiler.analysis.power_schedule import power_schedule
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.week import Window, hour_of_week, local_seconds, windows_of
from tests.profiler.analysis.demand_series import (
    LONDON,
    UTC_ZONE,
    local_util,
    power_of,
    sample_times,
    series,
)

TH = Thresholds()


def _nightly(d: int, h: int, w: int) -> bool:
    return h in (23, 0)


def test_local_seconds_follow_the_london_clock_change() -> None:
    # 29 March 2026 01:00 UTC: GMT -> BST (+1 h); 25 October 2026 01:00 UTC: back to GMT
    spring = datetime(2026, 3, 29, 1, 0, tzinfo=UTC_ZONE).timestamp()
    autumn = datetime(2026, 10, 25, 1, 0, tzinfo=UTC_ZONE).timestamp()
    t = np.array([spring - 1.0, spring, autumn - 1.0, autumn])
    assert list(local_seconds(t, LONDON) - t) == [0.0, 3600.0, 3600.0, 0.0]


def test_hour_of_week_is_monday_based() -> None:
    monday = datetime(2026, 11, 2, tzinfo=UTC_ZONE).timestamp()  # a Monday
    t = np.array([monday, monday + 23 * 3600.0, monday + 6 * 86400.0 + 23 * 3600.0 + 59.0])
    assert list(hour_of_week(local_seconds(t, UTC_ZONE))) == [0, 23, 167]


def test_windows_wrap_from_sunday_into_monday() -> None:
    cells = np.zeros(168, dtype=bool)
    cells[[167, 0, 1, 30]] = True
    assert windows_of(cells) == (Window(30, 1), Window(167, 3))
    assert Window(167, 3).label == "Sun 23:00-Mon 02:00"


def test_nightly_batch_profile_has_the_known_figures() -> None:
    t = sample_times(4)
    util = local_util(t, LONDON, _nightly, 0.35, 0.02)
    s = series("vm", t, util, power_of(util, 60.0, 160.0))
    profile = profile_demand(s, LONDON, TH)
    assert profile.recurring == tuple(Window(23 + 24 * d, 2) for d in range(7))
    assert (profile.regular_weeks, profile.n_weeks) == (4, 4)
    assert profile.busy_hours_per_week == pytest.approx(14.0)
    assert profile.weeks_observed == pytest.approx(4.0)
    assert profile.observed_share.sum() == pytest.approx(1.0)
    assert profile.observed_share[5] == pytest.approx(1 / 168)
    # 14 of 168 hours at 35 %: the load-duration curve steps at the idle and busy levels
    assert profile.share_at_or_above(0.03) == pytest.approx(14 / 168)
    assert profile.share_at_or_above(0.40) == 0.0
    assert profile.share_at_or_above(0.0) == 1.0
    assert profile.util_mean[23] == pytest.approx(0.35, abs=0.001)
    assert profile.util_mean[5] == pytest.approx(0.02, abs=0.001)
    assert profile.power_mean_w[5] == pytest.approx(62.0, abs=0.1)
    mean = (14 * 0.35 + 154 * 0.02) / 168
    assert profile.peak_to_mean_util == pytest.approx(0.35 / mean, rel=0.02)
    grid = profile.grid_dict()
    assert grid["util_mean"][0][23] == pytest.approx(0.35, abs=0.001)  # type: ignore[index]


def test_the_same_host_read_in_the_wrong_zone_shifts_its_windows() -> None:
    t = sample_times(4)
    util = local_util(t, ZoneInfo("America/New_York"), _nightly, 0.35, 0.02)
    s = series("vm", t, util)
    in_utc = profile_demand(s, UTC_ZONE, TH)
    # New York is UTC-5 in November: 23:00 local is 04:00 UTC
    assert in_utc.recurring[0] == Window(4, 2)


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 3, 16, tzinfo=UTC_ZONE),  # two weeks either side of 29 March
        datetime(2026, 10, 12, tzinfo=UTC_ZONE),  # two weeks either side of 25 October
    ],
)
def test_a_london_dst_week_keeps_the_batch_at_23_local(start: datetime) -> None:
    t = sample_times(4, start.timestamp())
    util = local_util(t, LONDON, _nightly, 0.35, 0.02)
    s = series("vm", t, util)
    profile = profile_demand(s, LONDON, TH)
    assert profile.recurring == tuple(Window(23 + 24 * d, 2) for d in range(7))
    # 4 weeks of samples; in spring the last hour falls in a fifth local week (BST)
    assert profile.regular_weeks == profile.n_weeks >= 4
    assert profile.weeks_observed == pytest.approx(4.0)
    schedule = power_schedule(profile, "Europe/London", TH)
    assert schedule is not None
    assert {(s.start_min % 1440, s.end_min % 1440) for s in schedule.off} == {(60, 22 * 60 + 45)}
    # binned in UTC instead, the summer weeks' batch lands at 22:00-00:00
    naive = profile_demand(s, UTC_ZONE, TH)
    assert naive.recurring != profile.recurring


def test_random_peaks_recur_nowhere_and_are_never_switched_off() -> None:
    rng = np.random.default_rng(3)
    hot = {(w, int(c)) for w in range(4) for c in rng.choice(168, size=6, replace=False)}
    t = sample_times(4)
    util = local_util(t, LONDON, lambda d, h, w: (w, d * 24 + h) in hot, 0.6, 0.02)
    profile = profile_demand(series("vm", t, util), LONDON, TH)
    # a cell may be hit in two weeks by chance, but no week keeps to the recurring cells
    assert sum(w.hours for w in profile.recurring) <= 2
    assert profile.regular_weeks == 0
    assert profile.regularity == 0.0
    schedule = power_schedule(profile, "Europe/London", TH)
    assert schedule is not None  # idle hours exist, but no rule proposes them (test_demand_rules)
    on = {c for w in schedule.on for c in w.cells}
    assert {c for _, c in hot} <= on


def test_steady_host_has_no_idle_hour_to_switch_off() -> None:
    t = sample_times(4)
    util = local_util(t, LONDON, lambda d, h, w: True, 0.40, 0.40)
    profile = profile_demand(series("vm", t, util), LONDON, TH)
    assert profile.recurring == (Window(0, 168),)
    assert power_schedule(profile, "Europe/London", TH) is None


def test_an_hour_observed_in_one_week_only_stays_on() -> None:
    t = sample_times(1)  # one week: no hour is known idle in two weeks
    util = local_util(t, LONDON, _nightly, 0.35, 0.02)
    profile = profile_demand(series("vm", t, util), LONDON, TH)
    assert profile.recurring == ()
    assert power_schedule(profile, "Europe/London", TH) is None


def test_a_margin_longer_than_the_gap_leaves_the_host_on() -> None:
    # on 23:00-01:00 and 04:00-05:00 daily: the 3 h gap minus a 4 h margin is no off span
    t = sample_times(4)
    util = local_util(t, LONDON, lambda d, h, w: h in (23, 0, 4), 0.35, 0.02)
    profile = profile_demand(series("vm", t, util), LONDON, TH)
    th = Thresholds(schedule_margin_s=4 * 3600.0, schedule_min_off_s=60.0)
    schedule = power_schedule(profile, "Europe/London", th)
    assert schedule is not None
    assert {(s.start_min % 1440, s.minutes) for s in schedule.off} == {(5 * 60, 14 * 60)}


def test_a_series_without_utilisation_has_no_pattern() -> None:
    t = sample_times(2)
    profile = profile_demand(series("vm", t, np.full(t.size, np.nan)), LONDON, TH)
    assert profile.recurring == () and profile.n_weeks == 0
    assert profile.weeks_observed == 0.0
    assert power_schedule(profile, "Europe/London", TH) is None
