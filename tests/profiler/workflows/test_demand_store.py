"""Demand profiles and the findings that see time, through a real SQLite store: known answers.

Four weeks of 5-minute samples written by the store's own writer (with its minute
rollups), read back by `demand_window` and `analyze_since` from raw samples and from
the rollups; the zone is Europe/London (UTC+0 in November).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from profiler.analysis.thresholds import Thresholds
from profiler.model.savings import Site
from profiler.store.database import Store
from profiler.workflows.analyze import analyze_since
from profiler.workflows.demand import demand_window
from tests.profiler.workflows.demand_store import (
    HOST,
    NOW_S,
    SINCE_S,
    idle_power_w,
    write_host,
)

TH = Thresholds()
TZ = "Europe/London"
BATCH = {23 + 24 * d for d in range(7)} | {24 * d for d in range(7)}


def _nightly(h: int) -> bool:
    return h in (23, 0)


def _device(result: Any, device_id: str) -> dict[str, Any]:
    (host,) = result.as_dict()["hosts"]
    found: dict[str, Any] = {d["device"]: d for d in host["devices"]}
    return found[device_id]


def _off_cells(schedule: dict[str, Any]) -> set[int]:
    cells: set[int] = set()
    for span in schedule["off_spans"]:
        start, minutes = span["start_minute_of_week"], span["minutes"]
        cells |= {((start + m) // 60) % 168 for m in range(minutes)}
    return cells


def _findings(path: Path, source: str = "auto") -> dict[str, Any]:
    with Store(path, read_only=True) as store:
        result = analyze_since(
            store,
            SINCE_S,
            Site(),
            TH,
            host=HOST,
            now_s=NOW_S,
            source=source,
            tz=TZ,  # type: ignore[arg-type]
        )
    return {f["rule"]: f for f in result.as_dict()["findings"]}


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_host(
        tmp_path_factory.mktemp("nightly") / "f.db", lambda d, h, w: _nightly(h), 0.35
    )


@pytest.mark.parametrize("source", ["raw", "minute"])
def test_nightly_batch_profile_and_schedule_from_the_store(nightly: Path, source: str) -> None:
    with Store(nightly, read_only=True) as store:
        result = demand_window(store, SINCE_S, TZ, TH, host=HOST, now_s=NOW_S, source=source)  # type: ignore[arg-type]
    host = _device(result, "host")
    assert host["rule"] == "PEAK_SIZED_HOST"
    windows = host["recurring_windows"]
    assert [(w["start_hour_of_week"], w["hours"]) for w in windows] == [
        (23 + 24 * d, 2) for d in range(7)
    ]
    spans = host["schedule"]["off_spans"]
    assert {(s["off_at"][4:], s["wake_at"][4:]) for s in spans} == {("01:00", "22:45")}
    assert not _off_cells(host["schedule"]) & BATCH
    assert host["busy_hours_per_week"] == pytest.approx(14.0)
    assert host["regular_weeks"] == 4 and host["observed_weeks"] == 4
    assert host["weeks_observed"] == pytest.approx(4.0, rel=1e-3)
    assert host["load_duration"]["provisioned"] == 4.0
    # 14 of 168 hours at 35 %: the share of time at or above 30 % load is 1/12
    curve = host["load_duration"]
    assert curve["share_at_or_above"][30] == pytest.approx(14 / 168, rel=1e-3)
    kinds = {d["kind"] for d in result.as_dict()["hosts"][0]["devices"]}
    assert kinds == {"host", "cpu", "memory"}


@pytest.mark.parametrize("source", ["raw", "minute"])
def test_nightly_batch_saves_idle_power_in_the_off_hours_within_one_percent(
    nightly: Path, source: str
) -> None:
    found = _findings(nightly, source)
    finding = found["PEAK_SIZED_HOST"]
    assert finding["evidence"]["idle_power_source"] == "measured"
    assert finding["evidence"]["idle_power_w"] == pytest.approx(idle_power_w(), rel=2e-3)
    expected_kwh = idle_power_w() * 21.75 * 365 / 1000.0
    saved = finding["savings"]["it_kwh_per_year"]["point"]
    assert saved == pytest.approx(expected_kwh, rel=0.01)
    forms = finding["recommendation"]["forms"]
    assert {"finwatt_toml", "cron", "systemd", "kube_green"} <= set(forms)
    assert all(w["label"] for w in finding["evidence"]["windows"])
    assert "IDLE_HOST" not in found


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_host(
        tmp_path_factory.mktemp("office") / "f.db", lambda d, h, w: d < 5 and 8 <= h < 18, 0.5
    )


def test_office_hours_are_off_nights_and_weekends(office: Path) -> None:
    finding = _findings(office)["OFF_HOURS_IDLE"]
    spans = finding["recommendation"]["schedule"]["off_spans"]
    assert [(s["off_at"], s["wake_at"]) for s in spans][-1] == ("Fri 18:00", "Mon 07:45")
    assert set(range(5 * 24, 7 * 24)) <= _off_cells(finding["recommendation"]["schedule"])


def test_a_steady_host_gets_no_schedule(tmp_path: Path) -> None:
    path = write_host(tmp_path / "f.db", lambda d, h, w: True, 0.4, 0.4)
    found = _findings(path)
    assert not {"PEAK_SIZED_HOST", "OFF_HOURS_IDLE"} & set(found)
    with Store(path, read_only=True) as store:
        result = demand_window(store, SINCE_S, TZ, TH, host=HOST, now_s=NOW_S)
    assert _device(result, "host")["schedule"] is None


def test_the_issues_first_host_gets_no_bare_add_capacity(tmp_path: Path) -> None:
    # a 4-vCPU VM busy only 15:00-17:00 on weekdays
    path = write_host(tmp_path / "f.db", lambda d, h, w: d < 5 and 15 <= h < 17, 0.95)
    found = _findings(path)
    under = found["UNDER_PROVISIONED_CPU"]
    assert "add capacity" not in under["message"]
    assert "Mon 15:00-Mon 17:00" in under["message"]
    assert found["PEAK_SIZED_HOST"]["device"] == "host"


def test_without_a_zone_analyze_since_is_unchanged(nightly: Path) -> None:
    with Store(nightly, read_only=True) as store:
        result = analyze_since(store, SINCE_S, Site(), TH, host=HOST, now_s=NOW_S)
    rules = {f.rule for f in result.assessment.findings}
    assert not rules & {"PEAK_SIZED_HOST", "OFF_HOURS_IDLE"}


def test_a_dst_week_keeps_the_schedule_on_the_wall_clock(tmp_path: Path) -> None:
    # Monday 12 October 2026 00:00 BST; London leaves summer time on Sunday 25 October
    start = datetime(2026, 10, 12, tzinfo=ZoneInfo(TZ)).timestamp()
    path = write_host(tmp_path / "f.db", lambda d, h, w: _nightly(h), 0.35, start=start)
    with Store(path, read_only=True) as store:
        result = demand_window(store, SINCE_S, TZ, TH, host=HOST, now_s=start + SINCE_S)
    host = _device(result, "host")
    spans = host["schedule"]["off_spans"]
    assert {(s["off_at"][4:], s["wake_at"][4:]) for s in spans} == {("01:00", "22:45")}
    assert not _off_cells(host["schedule"]) & BATCH
    assert host["busy_hours_per_week"] == pytest.approx(14.0, abs=0.3)
