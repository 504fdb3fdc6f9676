"""The schedule's text forms: finwatt TOML, cron, systemd timers, kube-green SleepInfo."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest
import yaml

from profiler.analysis.power_schedule import OffSpan, PowerSchedule
from profiler.analysis.schedule_forms import (
    cron_lines,
    finwatt_toml,
    kube_green,
    schedule_forms,
    systemd_units,
    unit_name,
)
from profiler.analysis.week import Window
from profiler.settings.schedule_entries import ScheduleTable

DAY = 1440
OFFICE = PowerSchedule(
    on=tuple(Window(d * 24 + 8, 10) for d in range(5)),
    off=(
        *(OffSpan(d * DAY + 18 * 60, 13 * 60 + 45) for d in range(4)),
        OffSpan(4 * DAY + 18 * 60, 2 * DAY + 13 * 60 + 45),
    ),
    margin_s=900.0,
    tz="Europe/London",
)


def test_finwatt_toml_entries_validate_and_monitor_each_on_window() -> None:
    tables = tomllib.loads(finwatt_toml(OFFICE, "uat-1"))["schedule"]
    assert len(tables) == 1
    entry = ScheduleTable.model_validate(tables[0])
    assert (entry.cron, entry.tz, entry.action) == (
        "45 7 * * 1,2,3,4,5",
        "Europe/London",
        "monitor",
    )
    assert entry.duration == pytest.approx(10.25 * 3600)


def test_cron_suspends_and_sets_the_wake_in_the_zone() -> None:
    text = cron_lines(OFFICE, "uat-1")
    wake = "/usr/sbin/rtcwake -m mem -t $(TZ=Europe/London date -d"
    assert text.splitlines() == [
        "# finwatt power schedule for uat-1",
        "CRON_TZ=Europe/London",
        f"0 18 * * 1,2,3,4 root {wake} '07:45 tomorrow' +\\%s)",
        f"0 18 * * 5 root {wake} '07:45 3 days' +\\%s)",
    ]


@pytest.mark.skipif(shutil.which("date") is None, reason="no date(1)")
@pytest.mark.parametrize("words", ["07:45 tomorrow", "07:45 3 days", "22:45 today"])
def test_gnu_date_reads_the_wake_words_as_that_wall_time(words: str) -> None:
    done = subprocess.run(
        ["date", "-d", words, "+%H:%M"],
        capture_output=True,
        text=True,
        env={"TZ": "Europe/London"},
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("date(1) is not GNU date")
    assert done.stdout.strip() == words.split()[0]


def test_systemd_timer_pair_sleeps_and_wakes_the_system() -> None:
    units = systemd_units(OFFICE, "uat-1")
    assert sorted(units) == [
        "finwatt-sleep-uat-1.service",
        "finwatt-sleep-uat-1.timer",
        "finwatt-wake-uat-1.service",
        "finwatt-wake-uat-1.timer",
    ]
    sleep, wake = units["finwatt-sleep-uat-1.timer"], units["finwatt-wake-uat-1.timer"]
    assert "OnCalendar=Mon,Tue,Wed,Thu,Fri 18:00:00 Europe/London" in sleep
    assert "OnCalendar=Mon,Tue,Wed,Thu,Fri 07:45:00 Europe/London" in wake
    assert "WakeSystem=true" in wake and "WakeSystem" not in sleep
    assert "ExecStart=/usr/bin/systemctl suspend" in units["finwatt-sleep-uat-1.service"]


def test_kube_green_sleepinfo_for_office_hours() -> None:
    text = kube_green(OFFICE, "uat-1", "risk-uat")
    assert text == (
        "---\n"
        "apiVersion: kube-green.com/v1alpha1\n"
        "kind: SleepInfo\n"
        "metadata:\n"
        "  name: uat-1-1\n"
        "  namespace: risk-uat\n"
        "spec:\n"
        '  weekdays: "1,2,3,4,5"\n'
        '  sleepAt: "18:00"\n'
        '  wakeUpAt: "07:45"\n'
        '  timeZone: "Europe/London"\n'
    )
    (doc,) = [d for d in yaml.safe_load_all(text) if d]
    assert doc["spec"]["weekdays"] == "1,2,3,4,5"


def test_spans_one_weekday_set_cannot_express_give_no_sleepinfo() -> None:
    # off Mon 18:00-Tue 07:45 and Wed 18:00-Fri 07:45: kube-green would wake on Wednesday
    odd = PowerSchedule(
        on=(Window(8, 10), Window(24 + 8, 10 + 24 + 8), Window(4 * 24 + 8, 10)),
        off=(OffSpan(18 * 60, 13 * 60 + 45), OffSpan(2 * DAY + 18 * 60, DAY + 13 * 60 + 45)),
        margin_s=900.0,
        tz="Europe/London",
    )
    assert kube_green(odd, "x", "default") is None


@pytest.mark.parametrize("tz", ["Europe/London; rm -rf /", "Europe/../etc", "Europe/London\n"])
def test_a_zone_that_is_not_a_zone_name_is_refused(tz: str) -> None:
    bad = PowerSchedule(OFFICE.on, OFFICE.off, 900.0, tz)
    with pytest.raises(ValueError, match="not a zone name"):
        schedule_forms(bad, "vm")


def test_device_ids_become_safe_unit_names() -> None:
    assert unit_name("web01.example/host'\n$(id)") == "web01-example-host-id"
    assert unit_name("///") == "host"
    with pytest.raises(ValueError, match="not a unit name"):
        cron_lines(OFFICE, "Bad Name")
