"""Cron entries in a local time zone, across both 2026 daylight-saving changes of London.

The daemon loop (`run_loop`) runs on a fake clock through each change; the fire times
it records are checked against the wall clock of Europe/London: BST (UTC+1) from
01:00 UTC on 29 March 2026, GMT again from 01:00 UTC on 25 October 2026.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from profiler.schedule.local_time import cron_times, wall_to_utc
from profiler.schedule.state import StateFile
from profiler.schedule.timing import fresh_state, run_loop
from profiler.settings.schedule_entries import ScheduleEntry
from profiler.settings.time_zones import UnknownZoneError, host_zone_name, zone
from tests.fakes.clock import FakeWallClock
from tests.profiler.schedule.test_schedule import FakeActions

LONDON = ZoneInfo("Europe/London")
SPRING = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 01:00 GMT -> 02:00 BST
AUTUMN = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 02:00 BST -> 01:00 GMT


def london(cron: str, name: str = "eod") -> ScheduleEntry:
    return ScheduleEntry(name, "run", cron=cron, tz="Europe/London")


def fired_on_fake_clock(
    entry: ScheduleEntry, start: datetime, end: datetime, tmp: Path
) -> list[datetime]:
    """Run the daemon loop from `start` to `end` on a fake clock; return the fire times."""
    clock = FakeWallClock(start, end)
    actions = FakeActions(clock)
    book = StateFile(tmp / f"state-{start:%m%d}.json")
    run_loop([entry], book, actions, clock, clock.stop, grace_period_s=3600.0, max_sleep_s=3600.0)
    return [t for _, t in actions.fired]


def local(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%m-%d %H:%M %Z")


def test_an_end_of_day_run_stays_at_1830_london_across_both_changes(tmp_path: Path) -> None:
    entry = london("30 18 * * *")
    spring = fired_on_fake_clock(
        entry,
        datetime(2026, 3, 27, 12, tzinfo=UTC),
        datetime(2026, 3, 31, 12, tzinfo=UTC),
        tmp_path,
    )
    assert [local(t) for t in spring] == [
        "03-27 18:30 GMT", "03-28 18:30 GMT", "03-29 18:30 BST", "03-30 18:30 BST",
    ]  # fmt: skip
    assert [t.hour for t in spring] == [18, 18, 17, 17]  # in UTC it moves by an hour
    autumn = fired_on_fake_clock(
        entry, datetime(2026, 10, 23, 12, tzinfo=UTC), datetime(2026, 10, 27, 12, tzinfo=UTC),
        tmp_path,
    )  # fmt: skip
    assert [local(t) for t in autumn] == [
        "10-23 18:30 BST", "10-24 18:30 BST", "10-25 18:30 GMT", "10-26 18:30 GMT",
    ]  # fmt: skip


def test_a_time_in_the_skipped_hour_fires_once_when_the_clocks_jump(tmp_path: Path) -> None:
    entry = london("30 1 * * *")
    fired = fired_on_fake_clock(
        entry, datetime(2026, 3, 28, 0, tzinfo=UTC), datetime(2026, 3, 30, 3, tzinfo=UTC), tmp_path
    )
    # 01:30 does not exist on 29 March: it fires once, at the jump (02:00 BST)
    assert [local(t) for t in fired] == ["03-28 01:30 GMT", "03-29 02:00 BST", "03-30 01:30 BST"]
    assert fired[1] == SPRING


def test_every_quarter_hour_in_the_skipped_hour_collapses_into_one_fire(tmp_path: Path) -> None:
    entry = london("*/15 * * * *")
    fired = fired_on_fake_clock(
        entry, datetime(2026, 3, 29, 0, 20, tzinfo=UTC), SPRING + timedelta(minutes=31), tmp_path
    )
    assert [local(t) for t in fired] == [
        "03-29 00:30 GMT", "03-29 00:45 GMT", "03-29 02:00 BST", "03-29 02:15 BST",
        "03-29 02:30 BST",
    ]  # fmt: skip
    assert len(set(fired)) == len(fired)


def test_a_time_in_the_repeated_hour_fires_once(tmp_path: Path) -> None:
    entry = london("30 1 * * *")
    fired = fired_on_fake_clock(
        entry,
        datetime(2026, 10, 24, 0, tzinfo=UTC),
        datetime(2026, 10, 26, 3, tzinfo=UTC),
        tmp_path,
    )
    # 01:30 happens twice on 25 October (BST, then GMT): it fires at the first only
    assert [local(t) for t in fired] == ["10-24 01:30 BST", "10-25 01:30 BST", "10-26 01:30 GMT"]
    assert fired[1] == AUTUMN - timedelta(minutes=30)


def test_the_second_pass_of_the_repeated_hour_fires_nothing(tmp_path: Path) -> None:
    entry = london("*/20 * * * *")
    fired = fired_on_fake_clock(
        entry, datetime(2026, 10, 24, 23, 50, tzinfo=UTC), AUTUMN + timedelta(minutes=70),
        tmp_path,
    )  # fmt: skip
    assert [t.strftime("%H:%M") for t in fired] == ["00:00", "00:20", "00:40", "02:00"]
    assert [local(t) for t in fired][:3] == [
        "10-25 01:00 BST",
        "10-25 01:20 BST",
        "10-25 01:40 BST",
    ]


def test_a_daemon_started_inside_the_repeated_hour_waits_for_the_next_day() -> None:
    entry = london("30 1 * * *")
    second_pass = AUTUMN + timedelta(minutes=10)  # 01:10 GMT, after 01:30 BST fired
    times = list(zip(range(2), cron_times(entry.cron or "", entry.tz, second_pass), strict=False))
    assert [local(t) for _, t in times] == ["10-26 01:30 GMT", "10-27 01:30 GMT"]


def test_wall_to_utc_maps_gaps_to_the_jump_and_folds_to_the_first() -> None:
    assert wall_to_utc(datetime(2026, 3, 29, 1, 30), LONDON) == SPRING
    assert wall_to_utc(datetime(2026, 3, 29, 2, 0), LONDON) == SPRING
    assert wall_to_utc(datetime(2026, 10, 25, 1, 30), LONDON) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    new_york = ZoneInfo("America/New_York")  # 8 March 2026, 02:00 EST -> 03:00 EDT
    assert wall_to_utc(datetime(2026, 3, 8, 2, 30), new_york) == datetime(
        2026, 3, 8, 7, 0, tzinfo=UTC
    )


def test_a_utc_cron_keeps_the_trigger_it_had_before_zones() -> None:
    assert ScheduleEntry("n", "run", cron="0 2 * * *").trigger == "cron 0 2 * * *"
    assert ScheduleEntry("n", "run", cron="0 2 * * *", tz="Etc/UTC").trigger == "cron 0 2 * * *"
    moved = london("0 2 * * *")
    assert moved.trigger == "cron 0 2 * * * Europe/London"
    # a zone change is a trigger change: the entry restarts from a new baseline
    old = fresh_state(ScheduleEntry("n", "run", cron="0 2 * * *"), None, SPRING)
    assert fresh_state(moved, old, SPRING + timedelta(hours=1)).since > old.since


def test_unknown_zones_are_refused_and_the_host_zone_comes_from_tz(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(UnknownZoneError, match="IANA"):
        zone("Europe/Londn")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert host_zone_name() == "Asia/Tokyo"


def test_a_reports_date_and_time_are_the_entrys_local_ones(tmp_path: Path) -> None:
    from profiler.workflows.scheduler import report_path

    entry = ScheduleEntry("eod", "run", cron="0 5 * * *", tz="Asia/Tokyo")
    fired = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 05:00 on 2 March in Tokyo
    path = report_path(entry, "r/{name}-{date}-{time}.html", "run1", fired, tmp_path / "f.db")
    assert path == tmp_path / "r" / "eod-2026-03-02-050000.html"
